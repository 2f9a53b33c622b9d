"""The caller's past on the agent desk: earlier calls (linked in the call store by the
caller's keyed hash, never by the number) and unfinished work orders (pure formatting
here; the lookup itself is :func:`lookup`, run by the feature off the event loop)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ivr.core.callstore import CallRecord
from ivr.masking import mask_numbers_in_text
from ivr.reports.facts import facts_of
from ivr.workorders.model import WorkOrder

#: how many earlier calls the desk lists
HISTORY_CALLS = 10
#: how many of the caller's calls are searched for unfinished work orders
ORDER_CALLS = 50


def outcome(record: CallRecord) -> str:
    """How an earlier call ended, in the report's terms: answered (by an agent), connected
    (a dialled target answered), abandoned, callback, fallback, unanswered, or live."""
    facts = facts_of(record.call_id, record.steps)
    if facts is None or record.first("hangup") is None:
        return "live"
    if facts.answered:
        return "answered"
    if facts.connected:
        return "connected"
    if facts.abandoned:
        return "abandoned"
    if facts.callback_requested:
        return "callback"
    if facts.fallback:
        return "fallback"
    return "unanswered"


def call_row(record: CallRecord) -> dict[str, Any]:
    """One earlier call as the desk shows it: when, which line, how it ended."""
    decided = record.first("decided") or {}
    return {"call_id": record.call_id, "at": record.steps[0]["at"] if record.steps else None,
            "number": decided.get("number"), "line_name": decided.get("line_name"),
            "outcome": outcome(record)}


def order_row(order: WorkOrder) -> dict[str, Any]:
    """One unfinished work order as the desk shows it (summary digits masked)."""
    return {"id": order.id, "call_id": order.call_id, "created_at": order.created_at.isoformat(),
            "status": str(order.status), "department": order.department or order.target,
            "summary": mask_numbers_in_text(order.summary or "")[:200]}


#: earlier calls of a call's caller, newest first (the call store's ``same_caller``)
SameCaller = Callable[[str, int], Awaitable[list[CallRecord]]]
#: unfinished work orders of these calls, newest first
OpenOrders = Callable[[Sequence[str]], Awaitable[list[WorkOrder]]]


async def lookup(call_id: str, same_caller: SameCaller,
                 orders: OpenOrders | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The desk's history and work-order rows for the caller of ``call_id``."""
    earlier = await same_caller(call_id, ORDER_CALLS)
    rows = [call_row(r) for r in earlier[:HISTORY_CALLS]]
    found = await orders([call_id, *(r.call_id for r in earlier)]) if orders else []
    return rows, [order_row(o) for o in found]
