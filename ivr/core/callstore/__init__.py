"""The call store: every step of every call in SQLite, fast to read after a million calls.

:class:`CallStore` records (one writer thread, batched durable commits) and reads in
process; :class:`CallStoreReader` reads from other processes (CLI, test kit, reports).
``CallStore`` is imported on first use, so a reader (``hotline calls``) never loads asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ivr.core.callstore.reader import CallStoreReader
from ivr.core.callstore.record import CallQuery, CallRecord

if TYPE_CHECKING:
    from ivr.core.callstore.store import CallStore

__all__ = ["CallQuery", "CallRecord", "CallStore", "CallStoreReader"]


def __getattr__(name: str) -> Any:
    if name == "CallStore":
        from ivr.core.callstore.store import CallStore

        return CallStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
