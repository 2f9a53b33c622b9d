"""A callback entry and its state machine: an Enum, a transition table, named errors."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from ivr.masking import mask_number


class CallbackState(StrEnum):
    """Where a callback entry stands."""

    PENDING = "pending"  # waiting for a free agent (or quiet hours, spacing, the period)
    DIALLING = "dialling"  # marked durably before the Originate; the agent rings, then the caller
    CONNECTED = "connected"  # caller and agent were bridged
    FAILED = "failed"  # the caller was not reached in max_attempts
    CANCELLED = "cancelled"  # the caller called again, or someone cancelled it
    EXPIRED = "expired"  # pending longer than expire_after_h


class Outcome(StrEnum):
    """How one dial attempt ended (or why the entry closed)."""

    CONNECTED = "connected"
    NO_ANSWER = "no_answer"  # the caller's phone rang out
    BUSY = "busy"  # the caller was busy or unreachable
    AGENT_NO_ANSWER = "agent_no_answer"  # the agent did not answer: not an attempt, stays pending
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Reason(StrEnum):
    """Why a request was made."""

    NO_AGENTS = "no_agents"  # joinempty/leaveempty: nobody logged in (the dialplan's offer)
    ABANDONED = "abandoned"  # hung up in the queue after min_abandon_wait_s
    REQUESTED = "requested"  # the caller asked for one


S = CallbackState
TRANSITIONS: dict[CallbackState, frozenset[CallbackState]] = {
    S.PENDING: frozenset({S.DIALLING, S.CANCELLED, S.EXPIRED}),
    S.DIALLING: frozenset({S.CONNECTED, S.PENDING, S.FAILED}),
    S.CONNECTED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
OPEN = frozenset({S.PENDING, S.DIALLING})


class CallbackError(Exception):
    """Base of the callback feature's refusals."""


class IllegalCallbackTransition(CallbackError):
    """A move the table does not allow (e.g. cancelling an entry that is dialling)."""

    def __init__(self, entry_id: int, current: CallbackState, wanted: CallbackState) -> None:
        super().__init__(f"callback {entry_id} is {current.value}: it cannot become "
                         f"{wanted.value}")
        self.entry_id = entry_id
        self.current = current
        self.wanted = wanted


class UnknownCallback(CallbackError):
    """No entry has that id."""


def check_move(entry_id: int, current: CallbackState, wanted: CallbackState) -> None:
    """Raise :class:`IllegalCallbackTransition` unless the table allows ``current -> wanted``."""
    if wanted not in TRANSITIONS[current]:
        raise IllegalCallbackTransition(entry_id, current, wanted)


def after_attempt(attempts: int, outcome: Outcome, max_attempts: int) -> CallbackState:
    """Where a dialling entry goes once an attempt ended with ``outcome``.

    ``attempts`` already counts this attempt (an agent who did not answer is not one).
    """
    if outcome is Outcome.CONNECTED:
        return S.CONNECTED
    if outcome is Outcome.AGENT_NO_ANSWER:
        return S.PENDING
    return S.FAILED if attempts >= max_attempts else S.PENDING


@dataclass(frozen=True)
class Entry:
    """One callback entry.  ``number`` is the full number: it never leaves the store's
    process except as :attr:`masked`."""

    id: int
    call_id: str
    number: str
    skill: str
    reason: Reason
    requested_at: datetime
    state: CallbackState = S.PENDING
    attempts: int = 0
    last_attempt_at: datetime | None = None
    last_outcome: Outcome | None = None
    agent: str | None = None  # the agent of the attempt in progress or the last one
    closed_at: datetime | None = None
    held: str = ""  # why a pending entry is not dialled now (quiet hours, spacing, …)
    dial_key: str | None = None  # the attempt in progress: its channel id and AstDB key

    @property
    def masked(self) -> str:
        """The number as listings, logs and events show it."""
        return mask_number(self.number)

    def moved(self, wanted: CallbackState, **changes: object) -> Entry:
        """A copy in state ``wanted`` (checked against the table) with ``changes``."""
        check_move(self.id, self.state, wanted)
        return replace(self, state=wanted, **changes)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        """JSON-ready, the number masked."""
        return {
            "id": self.id, "call_id": self.call_id, "caller": self.masked, "skill": self.skill,
            "reason": self.reason.value, "requested_at": self.requested_at.isoformat(),
            "state": self.state.value, "attempts": self.attempts,
            "last_attempt_at": self.last_attempt_at.isoformat() if self.last_attempt_at else None,
            "last_outcome": self.last_outcome.value if self.last_outcome else None,
            "agent": self.agent,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "held": self.held,
        }
