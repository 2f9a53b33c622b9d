"""The agent state machine: an Enum and a transition table, with named errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AgentState(StrEnum):
    """Where an agent stands, as the ACD sees it."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


S = AgentState
TRANSITIONS: dict[AgentState, frozenset[AgentState]] = {
    S.LOGGED_OUT: frozenset({S.AVAILABLE, S.PAUSED}),
    S.AVAILABLE: frozenset({S.RINGING, S.ON_CALL, S.PAUSED, S.LOGGED_OUT}),
    S.RINGING: frozenset({S.ON_CALL, S.AVAILABLE, S.PAUSED, S.LOGGED_OUT}),
    S.ON_CALL: frozenset({S.WRAP_UP, S.AVAILABLE, S.PAUSED, S.LOGGED_OUT}),
    S.WRAP_UP: frozenset({S.AVAILABLE, S.PAUSED, S.LOGGED_OUT, S.RINGING}),
    S.PAUSED: frozenset({S.AVAILABLE, S.LOGGED_OUT, S.WRAP_UP}),
}


class IllegalAgentTransition(Exception):
    """A move the table does not allow (e.g. a logged-out agent going on a call)."""

    def __init__(self, agent: str, current: AgentState, wanted: AgentState) -> None:
        super().__init__(f"agent {agent}: {current} -> {wanted} is not allowed")
        self.agent = agent
        self.current = current
        self.wanted = wanted


@dataclass
class AgentStatus:
    """One agent's live state."""

    agent_id: str
    interface: str
    state: AgentState = AgentState.LOGGED_OUT
    since: datetime | None = None
    pause_reason: str = ""
    paused: bool = False  # a pause asked for during a call takes effect after it
    calls_taken: int = 0
    queues: set[str] = field(default_factory=set)

    def move(self, wanted: AgentState, at: datetime) -> None:
        """Apply one transition or raise :class:`IllegalAgentTransition`."""
        if wanted == self.state:
            return
        if wanted not in TRANSITIONS[self.state]:
            raise IllegalAgentTransition(self.agent_id, self.state, wanted)
        self.state = wanted
        self.since = at

    def to_json(self) -> dict[str, object]:
        """For ``hotline agent list --json`` and published snapshots."""
        return {
            "agent": self.agent_id, "interface": self.interface, "state": self.state.value,
            "since": self.since.isoformat() if self.since else None,
            "pause_reason": self.pause_reason, "calls_taken": self.calls_taken,
            "queues": sorted(self.queues),
        }
