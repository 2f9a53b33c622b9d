"""Read-only questions about work orders that other features ask (the web desk, /metrics),
answered through the store's own ``list`` so both stores serve them; blocking: call them
in a thread."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from ivr.workorders.model import UNACKNOWLEDGED, WorkOrder, WorkOrderStatus
from ivr.workorders.store import WorkOrderStore

#: a work order still to be dealt with: not resolved by the department, not closed
FINISHED = frozenset({WorkOrderStatus.RESOLVED, WorkOrderStatus.CLOSED})


def open_for_calls(store: WorkOrderStore, call_ids: Iterable[str],
                   limit: int = 20) -> list[WorkOrder]:
    """The unfinished orders filed for any of ``call_ids``, newest first, at most ``limit``."""
    found: dict[str, WorkOrder] = {}
    for call_id in dict.fromkeys(call_ids):
        for order in store.list(call_id=call_id, limit=None):
            if order.status not in FINISHED:
                found[order.id] = order
    return sorted(found.values(), key=lambda o: (o.created_at, o.id), reverse=True)[:limit]


def awaiting_ack_by_department(
        store: WorkOrderStore,
        department: Callable[[WorkOrder], str | None] = lambda o: o.department,
) -> dict[str, int]:
    """How many orders wait for their department's acknowledgement (open or sent), per
    department as ``department`` names it (the MQTT delivery's resolution; ``none`` for an
    order nobody claims)."""
    counts: Counter[str] = Counter()
    for status in sorted(UNACKNOWLEDGED):
        for order in store.list(status=status, limit=None):
            counts[department(order) or "none"] += 1
    return dict(counts)
