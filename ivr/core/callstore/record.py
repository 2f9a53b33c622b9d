"""What the call store hands back: one call's steps, and the query that selects calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class CallRecord:
    """Every step recorded for one call, oldest first.

    Each step is a dict ``{"call_id", "step", "at" (ISO text), **data}``, keys sorted,
    exactly like a line of the former JSON-lines journal.
    """

    call_id: str
    steps: list[dict[str, Any]] = field(default_factory=list)

    def first(self, step: str) -> dict[str, Any] | None:
        """The first step of a kind, if any."""
        return next((s for s in self.steps if s["step"] == step), None)

    @property
    def summary(self) -> dict[str, Any]:
        """The call in one line: number, mode, phase, prompts, target, outcome."""
        decided = self.first("decided") or {}
        hangup = self.first("hangup") or {}
        results = [s for s in self.steps if s["step"] == "dial_result"]
        return {
            "call_id": self.call_id,
            "at": self.steps[0]["at"] if self.steps else None,
            "number": decided.get("number"),
            "caller": decided.get("caller"),
            "mode": decided.get("mode"),
            "phase": decided.get("phase"),
            "prompts": decided.get("prompts"),
            "target": decided.get("target_kind"),
            "fallback": self.first("fallback") is not None,
            "dial_status": results[-1].get("status") if results else None,
            "hangup_cause": hangup.get("cause"),
        }


@dataclass(frozen=True)
class CallQuery:
    """Which calls to list.

    ``since`` (inclusive) and ``until`` (exclusive) bound the time of a call's first
    step; ``number`` is the dialled number (the ``decided`` step's ``number``).
    Without ``last``: the oldest matching calls first, ``offset`` skipped, at most
    ``limit``.  With ``last``: the newest ``last`` matching calls after skipping the
    ``offset`` newest ones (``limit`` is then ignored), still returned oldest first.
    """

    since: datetime | None = None
    until: datetime | None = None
    number: str | None = None
    last: int | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        if self.limit < 0 or self.offset < 0 or (self.last is not None and self.last < 0):
            raise ValueError("limit, offset and last must not be negative")
