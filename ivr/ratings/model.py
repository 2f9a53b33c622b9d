"""Ratings and follow-ups: the records, the follow-up state machine and its errors."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from ivr.ratings.parser import LABELS, NOT_RATED, Level


class Outcome(StrEnum):
    """How the survey ended for the caller."""

    RATED = "rated"
    NO_INPUT = "no_input"  # no valid key after the prompt and the re-prompt
    HANGUP = "hangup"  # the caller hung up during the survey

    @property
    def rated(self) -> bool:
        return self is Outcome.RATED


class FollowUpStatus(StrEnum):
    """A follow-up is open until someone marks it done (with a note)."""

    OPEN = "open"
    DONE = "done"


#: the follow-up state machine: status -> statuses it may move to
TRANSITIONS: dict[FollowUpStatus, frozenset[FollowUpStatus]] = {
    FollowUpStatus.OPEN: frozenset({FollowUpStatus.DONE}),
    FollowUpStatus.DONE: frozenset(),
}


class RatingsError(Exception):
    """Base of the errors of the ratings feature."""


class FollowUpNotFound(RatingsError, LookupError):
    """No follow-up with that id."""

    def __init__(self, followup_id: str) -> None:
        super().__init__(f"no follow-up {followup_id}")
        self.followup_id = followup_id


class IllegalFollowUpTransition(RatingsError, ValueError):
    """The follow-up cannot move to that status (e.g. closing one already done)."""

    def __init__(self, followup_id: str, current: FollowUpStatus, wanted: FollowUpStatus) -> None:
        super().__init__(f"follow-up {followup_id} is {current}, it cannot become {wanted}")
        self.followup_id = followup_id


class EmptyNote(RatingsError, ValueError):
    """Closing a follow-up needs a note saying what was done."""


def check_transition(followup_id: str, current: FollowUpStatus, wanted: FollowUpStatus) -> None:
    """Raise :class:`IllegalFollowUpTransition` unless ``current`` may become ``wanted``."""
    if wanted not in TRANSITIONS[current]:
        raise IllegalFollowUpTransition(followup_id, current, wanted)


@dataclass(frozen=True)
class Rating:
    """One surveyed call: rated 1–5, or not rated (``level`` None)."""

    call_id: str
    at: datetime
    outcome: Outcome
    level: Level | None
    agent: str | None
    skill: str | None
    line: str | None
    keys: str = ""
    tries: int = 0
    id: int | None = None

    @property
    def label(self) -> str:
        """非常满意 … 非常不满意, or 未评价."""
        return LABELS[self.level] if self.level is not None else NOT_RATED

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        body = asdict(self)
        body["at"] = self.at.isoformat()
        body["outcome"] = str(self.outcome)
        body["level"] = int(self.level) if self.level is not None else None
        body["label"] = self.label
        return body


@dataclass(frozen=True)
class FollowUp:
    """A 回访 item for a bad rating, due on a working day, for a supervisor group."""

    id: str
    call_id: str
    opened_at: datetime
    due: date
    group: str
    agent: str | None
    skill: str | None
    line: str | None
    level: Level
    caller_masked: str | None
    status: FollowUpStatus = FollowUpStatus.OPEN
    closed_at: datetime | None = None
    closed_by: str | None = None
    note: str | None = None

    def overdue(self, today: date) -> bool:
        """Open past its due date."""
        return self.status is FollowUpStatus.OPEN and today > self.due

    def to_json(self, today: date | None = None) -> dict[str, Any]:
        """A JSON-ready dict (``overdue`` when ``today`` is given)."""
        body = asdict(self)
        body["opened_at"] = self.opened_at.isoformat()
        body["due"] = self.due.isoformat()
        body["level"] = int(self.level)
        body["label"] = self.level.label
        body["status"] = str(self.status)
        body["closed_at"] = self.closed_at.isoformat() if self.closed_at else None
        if today is not None:
            body["overdue"] = self.overdue(today)
        return body
