"""The writer thread: it owns the read-write connection, commits queued steps in
batches and runs reads in queue order (so a read sees every step queued before it).

A failing write (disk full, a locked or read-only file) never ends the thread: the
batch stays queued and is retried with backoff; past ``max_pending`` queued steps the
oldest are dropped and counted.  Should the thread end anyway, it says so loudly,
fails what waits on it and marks itself dead.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.core.callstore.legacy import import_journal
from ivr.core.callstore.schema import Row, connect_writer, insert_rows

log = logging.getLogger(__name__)

STOP = object()
_STOP_ATTEMPTS = 5
_BACKOFF_MAX_S = 5.0


@dataclass
class Op:
    """Work for the writer thread: a function of the connection, or a flush (``fn`` None)."""

    fn: Callable[[sqlite3.Connection], Any] | None
    future: Future[Any]
    own_transactions: bool = False


class Writer(threading.Thread):
    """One store's writer thread, reading the store's queue."""

    def __init__(self, path: Path, items: queue.SimpleQueue[Any], lock: threading.Lock, *,
                 legacy: Path | None, commit_interval_s: float, batch_max: int,
                 max_pending: int) -> None:
        super().__init__(name="callstore-writer", daemon=True)
        self.ready: Future[None] = Future()
        self.dead = False
        self.dropped = 0
        self._path = path
        self._items = items
        self._lock = lock
        self._legacy = legacy
        self._interval = commit_interval_s
        self._batch_max = max(1, batch_max)
        self._max_pending = max(1, max_pending)
        self._conn: sqlite3.Connection | None = None
        self._pending: list[Row] = []
        self._inserted = 0  # how many of _pending the open transaction already holds
        self._waiters: list[Future[Any]] = []
        self._failures = 0
        self._retry_at = 0.0
        self._next_commit = 0.0
        self._stopping = False

    def run(self) -> None:
        try:
            self._conn = connect_writer(self._path)
        except Exception as exc:  # noqa: BLE001 - open() raises it
            self.ready.set_exception(exc)
            self._die("could not open the call store %s", self._path)
            return
        try:
            if self._legacy is not None:
                try:
                    import_journal(self._conn, self._legacy)
                except Exception:
                    log.exception("importing %s failed; it is kept and retried on the next start",
                                  self._legacy)
            self.ready.set_result(None)
            self._loop()
        except BaseException as exc:
            log.critical("the call store writer died: calls are no longer recorded", exc_info=True)
            if not self.ready.done():
                self.ready.set_exception(exc)
            self._die("the call store writer died")
        finally:
            self._conn.close()

    # -- the loop ---------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            if self._stopping:
                if self._finish():
                    return
                continue
            try:
                self._step()
            except Exception:
                log.exception("call store writer: unexpected error; carrying on")
                self._rollback()
                time.sleep(0.1)

    def _step(self) -> None:
        item = self._get(self._timeout())
        while item is not None:
            self._take(item)
            if self._stopping or len(self._pending) - self._inserted >= self._batch_max:
                break
            item = self._get(0.0)
        if self._due():
            self._commit()

    def _finish(self) -> bool:
        """After STOP: commit what is left, a few tries; True when the thread may end."""
        for attempt in range(_STOP_ATTEMPTS):
            time.sleep(max(0.0, self._retry_at - time.monotonic()))
            if self._commit():
                return True
            log.error("call store closing: write attempt %d of %d failed", attempt + 1, _STOP_ATTEMPTS)
        lost = len(self._pending)
        self._pending.clear()
        self._fail_waiters(RuntimeError(f"call store closed with {lost} steps unwritten"))
        log.error("call store closed: %d queued call steps could not be written and are lost", lost)
        return True

    def _get(self, timeout: float | None) -> Any:
        try:
            if timeout is not None and timeout <= 0:
                return self._items.get_nowait()
            return self._items.get(timeout=timeout)
        except queue.Empty:
            return None

    def _timeout(self) -> float | None:
        if not self._pending and not self._waiters:
            return None
        return max(0.0, max(self._next_commit, self._retry_at) - time.monotonic())

    def _due(self) -> bool:
        if not self._pending and not self._waiters:
            return False
        now = time.monotonic()
        if now < self._retry_at:
            return False
        return (now >= self._next_commit or bool(self._waiters)
                or len(self._pending) >= self._batch_max)

    def _take(self, item: Any) -> None:
        if isinstance(item, tuple):
            self._add(item)
        elif isinstance(item, Op):
            self._run(item)
        elif item is STOP:
            self._stopping = True

    def _add(self, row: Row) -> None:
        self._pending.append(row)
        excess = len(self._pending) - self._max_pending
        if excess > 0:
            self._rollback()
            drop = max(excess, self._max_pending // 100)
            del self._pending[:drop]
            self.dropped += drop
            log.error("call store: dropped the %d oldest unwritten call steps (%d in all) while "
                      "the database cannot be written", drop, self.dropped)

    # -- operations -------------------------------------------------------------------

    def _run(self, op: Op) -> None:
        if not op.future.set_running_or_notify_cancel():
            return
        if op.fn is None:
            self._waiters.append(op.future)
            return
        conn = self._connection()
        try:
            if op.own_transactions:
                if not self._commit():
                    raise sqlite3.OperationalError("queued call steps cannot be written")
            else:
                self._insert_pending()
            result = op.fn(conn)
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits on the future
            if op.own_transactions:
                self._rollback()
            op.future.set_exception(exc)
        else:
            op.future.set_result(result)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the call store writer has no connection")
        return self._conn

    def _insert_pending(self) -> None:
        """Put the queued steps into the open transaction, so a read sees them."""
        if self._inserted == len(self._pending) or time.monotonic() < self._retry_at:
            return
        conn = self._connection()
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN")
            insert_rows(conn, self._pending[self._inserted:])
            self._inserted = len(self._pending)
        except sqlite3.Error as exc:
            log.warning("call store: queued steps not visible to a read (%s)", exc)
            self._rollback()

    def _commit(self) -> bool:
        """Write and commit every queued step, ``batch_max`` per transaction; False on failure."""
        conn = self._connection()
        try:
            while self._pending:
                take = max(self._inserted, min(len(self._pending), self._batch_max))
                if not conn.in_transaction:
                    conn.execute("BEGIN")
                if take > self._inserted:
                    insert_rows(conn, self._pending[self._inserted:take])
                conn.execute("COMMIT")
                del self._pending[:take]
                self._inserted = 0
            if conn.in_transaction:
                conn.execute("COMMIT")
        except Exception as exc:
            self._rollback()
            self._failures += 1
            delay = min(_BACKOFF_MAX_S, 0.05 * 2 ** min(self._failures - 1, 10))
            self._retry_at = time.monotonic() + delay
            log.error("call store: writing %d call steps failed (%s: %s); retry %d in %.2f s",
                      len(self._pending), type(exc).__name__, exc, self._failures, delay,
                      exc_info=self._failures == 1)
            return False
        if self._failures:
            log.warning("call store: writing again after %d failed attempts", self._failures)
        self._failures = 0
        self._next_commit = time.monotonic() + self._interval
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            future.set_result(None)
        return True

    def _rollback(self) -> None:
        self._inserted = 0
        conn = self._conn
        if conn is not None and conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("call store: rollback failed")

    # -- the end ----------------------------------------------------------------------

    def _fail_waiters(self, error: Exception) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            future.set_exception(error)

    def _die(self, message: str, *args: Any) -> None:
        """Mark the writer dead, fail everything waiting on it, count the steps lost."""
        with self._lock:
            self.dead = True
        error = RuntimeError(message % args)
        self._fail_waiters(error)
        lost = len(self._pending)
        self._pending.clear()
        while (item := self._get(0.0)) is not None:
            if isinstance(item, Op):
                if item.future.set_running_or_notify_cancel():
                    item.future.set_exception(error)
            elif isinstance(item, tuple):
                lost += 1
        self.dropped += lost
        if lost:
            log.error("call store: %d queued call steps lost (%s)", lost, message % args)
