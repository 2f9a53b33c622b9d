"""Transfers as data: modes, the state machine, outcomes and named errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ivr.routing.rules import OnFailure


class TransferError(Exception):
    """A transfer cannot be started or changed; the message says why, for the agent."""


class CallNotFound(TransferError):
    """No live call has this id."""


class NotWithAgent(TransferError):
    """The call is not connected to a 12345 agent (still queued, or already transferred)."""


class UnknownTarget(TransferError):
    """The target is not a sub-center, endpoint, emergency number or expert seat we know."""


class NoTransferInProgress(TransferError):
    """Cancel or leave asked for a call with no transfer."""


class IllegalTransferTransition(TransferError):
    """A state change the transfer state machine does not allow."""


class TransferMode(StrEnum):
    """How the caller is handed over."""

    ATTENDED = "attended"  # caller hears the hold prompt; all three talk when the target answers
    STAY = "stay"  # the agent keeps talking with the caller while the target rings (emergencies)
    BLIND = "blind"  # the agent is released at once; the caller hears the hold prompt


class TargetKind(StrEnum):
    """What is being called."""

    SUBCENTER = "subcenter"
    KEPT_SEATS = "kept_seats"
    UTILITY = "utility"
    DEPARTMENT = "department"
    LEGACY = "legacy"
    EXPERT = "expert"
    EMERGENCY = "emergency"


class TransferState(StrEnum):
    """Where a transfer stands."""

    REQUESTED = "requested"  # command accepted, channels being moved
    DIALLING = "dialling"  # the target is being called, caller on hold (or with the agent)
    THREE_WAY = "three_way"  # caller, agent and target in one conversation
    HANDED_OVER = "handed_over"  # the agent left: caller and target talk
    RETURNED = "returned"  # the target did not answer: the caller is back with the agent
    CANCELLED = "cancelled"  # the agent cancelled; caller back with the agent
    ENDED = "ended"  # the conversation is over


TRANSITIONS: dict[TransferState, frozenset[TransferState]] = {
    TransferState.REQUESTED: frozenset({TransferState.DIALLING, TransferState.RETURNED,
                                        TransferState.CANCELLED, TransferState.ENDED}),
    TransferState.DIALLING: frozenset({TransferState.THREE_WAY, TransferState.HANDED_OVER,
                                       TransferState.RETURNED, TransferState.CANCELLED,
                                       TransferState.ENDED}),
    TransferState.THREE_WAY: frozenset({TransferState.HANDED_OVER, TransferState.CANCELLED,
                                        TransferState.RETURNED, TransferState.ENDED}),
    TransferState.HANDED_OVER: frozenset({TransferState.ENDED}),
    TransferState.RETURNED: frozenset({TransferState.ENDED}),
    TransferState.CANCELLED: frozenset({TransferState.ENDED}),
    TransferState.ENDED: frozenset(),
}

ACTIVE_STATES = frozenset({TransferState.REQUESTED, TransferState.DIALLING, TransferState.THREE_WAY})


class Outcome(StrEnum):
    """How the attempt to reach the target ended."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"


def outcome_of_dialstatus(dialstatus: str) -> Outcome:
    """Map Asterisk's ``DIALSTATUS`` to an outcome."""
    return {
        "ANSWER": Outcome.ANSWERED,
        "NOANSWER": Outcome.NO_ANSWER,
        "BUSY": Outcome.BUSY,
        "CANCEL": Outcome.CANCELLED,
    }.get(dialstatus.upper(), Outcome.FAILED)


@dataclass(frozen=True)
class ResolvedTarget:
    """A transfer target with everything needed to dial it."""

    name: str  # what the agent asked for, normalised (e.g. "subcenter-12366", "110")
    kind: TargetKind
    dial: str
    answer_s: int
    description: str = ""
    backup_dial: str | None = None
    on_failure: OnFailure = OnFailure.WORKORDER


@dataclass
class Transfer:
    """One transfer of one call, and its history."""

    id: str
    call_id: str
    target: ResolvedTarget
    mode: TransferMode
    requested_at: datetime
    requested_by: str  # "cli", "feature-code", "controller"
    caller_channel: str
    agent_channel: str | None
    summary: str
    agent_id: str | None = None  # the roster id of the agent on agent_channel
    state: TransferState = TransferState.REQUESTED
    outcome: Outcome | None = None
    workorder_id: str | None = None
    history: list[tuple[datetime, TransferState]] = field(default_factory=list)

    def move(self, state: TransferState, at: datetime) -> None:
        """Change state, or raise :class:`IllegalTransferTransition`."""
        if state is self.state:
            return
        if state not in TRANSITIONS[self.state]:
            raise IllegalTransferTransition(
                f"transfer {self.id}: {self.state.value} -> {state.value} is not allowed")
        self.state = state
        self.history.append((at, state))

    @property
    def active(self) -> bool:
        """Still dialling or in the three-way conversation."""
        return self.state in ACTIVE_STATES

    def to_json(self) -> dict[str, object]:
        """A JSON-friendly view (for ``hotline transfer list`` and the control API)."""
        return {
            "id": self.id, "call_id": self.call_id, "target": self.target.name,
            "target_kind": self.target.kind.value, "mode": self.mode.value,
            "state": self.state.value, "outcome": self.outcome.value if self.outcome else None,
            "workorder": self.workorder_id, "requested_at": self.requested_at.isoformat(),
            "requested_by": self.requested_by, "agent_channel": self.agent_channel,
            "history": [(at.isoformat(), state.value) for at, state in self.history],
        }
