"""The work-order feature: the durable store other features file work orders into."""

from __future__ import annotations

from ivr.core.features import Core, Feature
from ivr.workorders.store import SqliteWorkOrderStore, WorkOrderStore


def register(core: Core) -> Feature:
    """Work orders: provides the store (``$HOTLINE_RUN_DIR/workorders.db``)."""
    store = SqliteWorkOrderStore(core.run_dir.workorders_db)
    core.provide(WorkOrderStore, store)  # type: ignore[type-abstract]
    return Feature(name="workorders", on_stop=store.close)
