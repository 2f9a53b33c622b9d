"""Work orders: cases handed to a department when a transfer to it failed."""

from ivr.workorders.model import (
    REASONS,
    TARGET_KINDS,
    TRANSITIONS,
    HistoryEntry,
    IllegalWorkOrderTransition,
    UnmaskedCallerError,
    WorkOrder,
    WorkOrderNotFound,
    WorkOrderStatus,
)
from ivr.workorders.store import (
    InMemoryWorkOrderStore,
    SqliteWorkOrderStore,
    WorkOrderStore,
    WorkOrderStoreError,
)

__all__ = [
    "REASONS",
    "TARGET_KINDS",
    "TRANSITIONS",
    "HistoryEntry",
    "IllegalWorkOrderTransition",
    "InMemoryWorkOrderStore",
    "SqliteWorkOrderStore",
    "UnmaskedCallerError",
    "WorkOrder",
    "WorkOrderNotFound",
    "WorkOrderStatus",
    "WorkOrderStore",
    "WorkOrderStoreError",
]
