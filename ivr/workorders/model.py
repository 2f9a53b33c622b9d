"""Work orders: a case handed to a department when a three-way transfer to it failed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# every transfer TargetKind (ivr.transfers.model): a failed transfer to any of them files an order
TARGET_KINDS = frozenset({"subcenter", "kept_seats", "utility", "department", "legacy", "expert",
                          "emergency"})
REASONS = frozenset({"no_answer", "busy", "failed", "cancelled", "requested"})
_UNMASKED = re.compile(r"\d{7,}")


class WorkOrderStatus(StrEnum):
    """Where a work order stands."""

    OPEN = "open"  # filed, not yet delivered
    SENT = "sent"  # published to its department, not yet acknowledged
    ACKNOWLEDGED = "acknowledged"  # the department's client received it (ack topic)
    ACCEPTED = "accepted"  # the department took the case on (签收)
    RETURNED = "returned"  # the department sent it back, with a reason (退回)
    RESOLVED = "resolved"  # the department says it is dealt with (办结)
    CLOSED = "closed"  # the hotline closed it


TRANSITIONS: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    WorkOrderStatus.OPEN: frozenset({WorkOrderStatus.SENT, WorkOrderStatus.CLOSED}),
    WorkOrderStatus.SENT: frozenset({WorkOrderStatus.ACKNOWLEDGED, WorkOrderStatus.CLOSED}),
    WorkOrderStatus.ACKNOWLEDGED: frozenset({WorkOrderStatus.ACCEPTED, WorkOrderStatus.RETURNED,
                                             WorkOrderStatus.CLOSED}),
    WorkOrderStatus.ACCEPTED: frozenset({WorkOrderStatus.RESOLVED, WorkOrderStatus.RETURNED,
                                         WorkOrderStatus.CLOSED}),
    WorkOrderStatus.RETURNED: frozenset({WorkOrderStatus.CLOSED}),
    WorkOrderStatus.RESOLVED: frozenset({WorkOrderStatus.CLOSED}),
    WorkOrderStatus.CLOSED: frozenset(),
}
#: not yet acknowledged by a department (``hotline workorder list --status unacknowledged``)
UNACKNOWLEDGED = frozenset({WorkOrderStatus.OPEN, WorkOrderStatus.SENT})


class IllegalWorkOrderTransition(ValueError):
    """A status change the transition table does not allow."""

    def __init__(self, order_id: str, old: WorkOrderStatus, new: WorkOrderStatus) -> None:
        super().__init__(f"work order {order_id}: {old} -> {new} is not allowed")
        self.order_id = order_id
        self.old = old
        self.new = new


class UnmaskedCallerError(ValueError):
    """A caller number that looks whole reached the work-order store."""


class WorkOrderNotFound(LookupError):
    """No work order has this id."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"no work order {order_id}")
        self.order_id = order_id


class HistoryEntry(NamedTuple):
    """One status change."""

    at: datetime
    status: WorkOrderStatus
    note: str


def require_aware(at: datetime, what: str) -> None:
    """Refuse a naive datetime."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} needs a timezone: {at.isoformat()}")


def check_masked(caller_masked: str | None) -> None:
    """Refuse a caller number with 7 or more consecutive digits (it is not masked)."""
    if caller_masked is not None and _UNMASKED.search(caller_masked):
        raise UnmaskedCallerError("caller number is not masked (7+ consecutive digits); "
                                  "mask it with ivr.masking.mask_number first")


def check_transition(order_id: str, old: WorkOrderStatus, new: WorkOrderStatus) -> None:
    """Raise :class:`IllegalWorkOrderTransition` unless ``old -> new`` is allowed."""
    if new not in TRANSITIONS[old]:
        raise IllegalWorkOrderTransition(order_id, old, new)


def copy_classification(classification: dict[str, Any] | None) -> dict[str, Any] | None:
    """A deep copy through JSON: refuses what JSON cannot hold, shares nothing with the caller."""
    if classification is None:
        return None
    copied = json.loads(json.dumps(classification, ensure_ascii=False))
    if not isinstance(copied, dict):
        raise ValueError("classification must be a JSON object")
    return copied


def local_day(at: datetime, tz: ZoneInfo = LOCAL_TZ) -> date:
    """The local calendar day an instant falls on."""
    return at.astimezone(tz).date()


def format_order_id(day: date, number: int) -> str:
    """``WO-20261123-0001``: the day's ``number``-th order (wider past 9999)."""
    return f"WO-{day:%Y%m%d}-{number:04d}"


@dataclass(frozen=True)
class WorkOrder:
    """A case for a department, with every status change it went through."""

    id: str
    call_id: str
    created_at: datetime
    status: WorkOrderStatus
    target: str
    target_kind: str
    reason: str
    summary: str
    department: str | None = None
    line: str | None = None
    skill: str | None = None
    caller_masked: str | None = None
    classification: dict[str, Any] | None = None
    transcript: str | None = None
    agent: str | None = None
    history: tuple[HistoryEntry, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.created_at, "created_at")
        check_masked(self.caller_masked)
        if self.target_kind not in TARGET_KINDS:
            raise ValueError(f"target_kind {self.target_kind!r} is not one of {sorted(TARGET_KINDS)}")
        if self.reason not in REASONS:
            raise ValueError(f"reason {self.reason!r} is not one of {sorted(REASONS)}")
        if not self.call_id or not self.target:
            raise ValueError("a work order needs a call_id and a target")

    def with_status(self, status: WorkOrderStatus, at: datetime, note: str = "") -> WorkOrder:
        """This order moved to ``status`` (checked against the transition table)."""
        require_aware(at, "at")
        check_transition(self.id, self.status, status)
        return replace(self, status=status, history=(*self.history, HistoryEntry(at, status, note)))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601 with their offset)."""
        return {
            "id": self.id,
            "call_id": self.call_id,
            "created_at": self.created_at.isoformat(),
            "status": str(self.status),
            "target": self.target,
            "target_kind": self.target_kind,
            "department": self.department,
            "line": self.line,
            "skill": self.skill,
            "caller_masked": self.caller_masked,
            "reason": self.reason,
            "summary": self.summary,
            "classification": copy_classification(self.classification),
            "transcript": self.transcript,
            "agent": self.agent,
            "history": [{"at": e.at.isoformat(), "status": str(e.status), "note": e.note}
                        for e in self.history],
        }
