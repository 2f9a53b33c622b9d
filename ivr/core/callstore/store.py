"""The call store: every step of every call, in SQLite, written by one thread.

``append`` never blocks (it puts the step on a queue); the writer thread commits
batches (WAL, ``synchronous=FULL``: a committed step survives a power cut).  Reads go
through the same thread, in queue order, so a read sees every step appended before it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ivr.core.callstore import queries
from ivr.core.callstore.callerkey import CallerKeyer, load_or_create_secret, secret_path
from ivr.core.callstore.reader import CallStoreReader
from ivr.core.callstore.record import CallQuery, CallRecord
from ivr.core.callstore.schema import step_row
from ivr.core.callstore.writer import STOP, Op, Writer

if TYPE_CHECKING:
    from ivr.core.events import CallEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
DAY_S = 86_400.0
#: callers linked by routing whose ``decided`` step has not been recorded yet
MAX_PENDING_LINKS = 10_000


class CallStore:
    """Records call steps in ``path`` and reads them back."""

    def __init__(self, path: Path, *, retention_days: float | None = None,
                 legacy_journal: Path | None = None, commit_interval_s: float = 0.02,
                 batch_max: int = 2000, max_pending: int = 100_000) -> None:
        self.path = path
        self.retention_days = retention_days
        self.legacy_journal = legacy_journal
        self._interval = commit_interval_s
        self._batch_max = batch_max
        self._max_pending = max_pending
        self._items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: Writer | None = None
        self._reader = CallStoreReader(path)
        self._lost = 0
        self._keyer: CallerKeyer | None = None
        self._links: OrderedDict[str, str] = OrderedDict()  # keys for decided steps to come
        self._unlinked: OrderedDict[str, None] = OrderedDict()  # decided steps without a key

    # -- life cycle -------------------------------------------------------------------

    def open(self) -> None:
        """Start the writer thread (schema, one-time legacy import, the caller-link
        secret); idempotent."""
        if self._keyer is None:
            try:
                self._keyer = CallerKeyer(load_or_create_secret(secret_path(self.path)))
            except OSError:
                log.exception("call store: no caller-link secret; calls are not linked by caller")
        with self._lock:
            if self._writer is not None and self._writer.is_alive() and not self._writer.dead:
                return
            writer = Writer(self.path, self._items, self._lock, legacy=self.legacy_journal,
                            commit_interval_s=self._interval, batch_max=self._batch_max,
                            max_pending=self._max_pending)
            writer.start()
            self._writer = writer
        try:
            writer.ready.result()
        except BaseException:
            with self._lock:
                if self._writer is writer:
                    self._writer = None
            raise

    def close(self) -> None:
        """Commit everything queued and stop the writer thread; idempotent."""
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is None:
                return
            self._items.put(STOP)
        writer.join()

    async def __aenter__(self) -> CallStore:
        await asyncio.to_thread(self.open)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await asyncio.to_thread(self.close)

    @property
    def dropped(self) -> int:
        """Steps lost: dropped while the database could not be written, or after the writer died."""
        writer = self._writer
        return self._lost + (writer.dropped if writer is not None else 0)

    # -- writing ----------------------------------------------------------------------

    def append(self, call_id: str, step: str, at: datetime, **data: Any) -> None:
        """Record one step of a call; thread-safe, never blocks, never raises."""
        self._put(call_id, step, at, data)

    def record(self, event: CallEvent) -> None:
        """Record a typed call event (an :class:`~ivr.core.events.EventStream` subscriber)."""
        self._put(event.call_id, event.step, event.at, event.data)

    def link_caller(self, call_id: str, number: str) -> None:
        """Link ``call_id`` to its caller: the keyed hash of ``number`` (never the number)
        goes into the row of the call's ``decided`` step, recorded next; never raises."""
        keyer = self._keyer
        if keyer is None or not number:
            return
        try:
            key = keyer(number)
        except Exception:
            log.exception("call store: call %s not linked to its caller", call_id)
            return
        if self._unlinked.pop(call_id, 0) is None:  # its decided step is already queued
            self._submit(lambda conn: queries.set_caller_key(conn, call_id, key))
            return
        self._links[call_id] = key
        while len(self._links) > MAX_PENDING_LINKS:
            self._links.popitem(last=False)

    def _put(self, call_id: str, step: str, at: datetime, data: Any) -> None:
        try:
            key = self._links.pop(call_id, None) if step == "decided" else None
            if step == "decided" and key is None and self._keyer is not None:
                self._unlinked[call_id] = None
                while len(self._unlinked) > MAX_PENDING_LINKS:
                    self._unlinked.popitem(last=False)
            row = step_row(call_id, step, at, data, caller_key=key)
        except Exception:
            log.exception("call store: step %s of call %s not recorded", step, call_id)
            return
        writer = self._writer
        if writer is not None and writer.dead:
            self._lost += 1
            if self._lost == 1 or self._lost % 1000 == 0:
                log.error("call store writer is dead: %d call steps not recorded", self._lost)
            return
        self._items.put(row)

    def _submit(self, fn: Callable[[sqlite3.Connection], Any] | None,
                own_transactions: bool = False) -> Future[Any] | None:
        """Queue work for the writer thread; None when it is not running."""
        with self._lock:
            writer = self._writer
            if writer is None or writer.dead or not writer.is_alive():
                return None
            future: Future[Any] = Future()
            self._items.put(Op(fn, future, own_transactions))
            return future

    async def flush(self) -> None:
        """Return once every step appended before this call is committed."""
        future = self._submit(None)
        if future is not None:
            await asyncio.wrap_future(future)

    async def expire(self, now: datetime) -> int:
        """Delete calls whose last step is more than ``retention_days`` before ``now``."""
        if self.retention_days is None:
            return 0
        before = now.timestamp() - self.retention_days * DAY_S
        future = self._submit(lambda conn: queries.expire(conn, before), own_transactions=True)
        if future is None:
            raise RuntimeError("the call store is not open")
        deleted: int = await asyncio.wrap_future(future)
        if deleted:
            log.info("call store: %d calls older than %g days expired", deleted, self.retention_days)
        return deleted

    # -- reading ----------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T],
                    fallback: Callable[[], T]) -> T:
        future = self._submit(fn)
        if future is None:
            return await asyncio.to_thread(fallback)
        result: T = await asyncio.wrap_future(future)
        return result

    def _read_blocking(self, fn: Callable[[sqlite3.Connection], T],
                       fallback: Callable[[], T]) -> T:
        future = self._submit(fn)
        if future is None:
            return fallback()
        result: T = future.result()
        return result

    async def get(self, call_id: str) -> CallRecord | None:
        """One call's record, or None."""
        return await self._read(lambda conn: queries.get(conn, call_id),
                                lambda: self._reader.get(call_id))

    async def calls(self, query: CallQuery) -> list[CallRecord]:
        """The calls ``query`` selects, oldest first."""
        return await self._read(lambda conn: queries.calls(conn, query),
                                lambda: self._reader.calls(query))

    async def same_caller(self, call_id: str, limit: int = 10) -> list[CallRecord]:
        """The earlier calls of ``call_id``'s caller, newest first, at most ``limit``."""
        return await self._read(lambda conn: queries.same_caller(conn, call_id, limit),
                                lambda: self._reader.same_caller(call_id, limit))

    def get_blocking(self, call_id: str) -> CallRecord | None:
        """:meth:`get` for threads and scripts (never on the event loop)."""
        return self._read_blocking(lambda conn: queries.get(conn, call_id),
                                   lambda: self._reader.get(call_id))

    def calls_blocking(self, query: CallQuery) -> list[CallRecord]:
        """:meth:`calls` for threads and scripts (never on the event loop)."""
        return self._read_blocking(lambda conn: queries.calls(conn, query),
                                   lambda: self._reader.calls(query))
