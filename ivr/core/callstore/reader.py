"""Read-only access to a call store from another process (CLI, test kit, reports)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from ivr.core.callstore import queries
from ivr.core.callstore.record import CallQuery, CallRecord
from ivr.core.callstore.schema import connect_reader

T = TypeVar("T")


def _missing(error: sqlite3.OperationalError) -> bool:
    """A database not created yet (no file, or no tables in it yet)."""
    text = str(error)
    return "no such table" in text or "unable to open database" in text


class CallStoreReader:
    """Opens ``path`` read-only (``mode=ro``) for each read; a missing store reads as empty."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self, fn: Callable[[sqlite3.Connection], T], empty: T) -> T:
        try:
            conn = connect_reader(self.path)
            if conn is None:
                return empty
            try:
                return fn(conn)
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            if _missing(exc):
                return empty
            raise

    def get(self, call_id: str) -> CallRecord | None:
        """One call's record, or None."""
        return self._read(lambda conn: queries.get(conn, call_id), None)

    def calls(self, query: CallQuery) -> list[CallRecord]:
        """The calls ``query`` selects, oldest first."""
        return self._read(lambda conn: queries.calls(conn, query), [])

    def same_caller(self, call_id: str, limit: int = 10) -> list[CallRecord]:
        """The earlier calls of ``call_id``'s caller, newest first (none in a store made
        before callers were linked and not yet opened by a controller since)."""
        try:
            return self._read(lambda conn: queries.same_caller(conn, call_id, limit), [])
        except sqlite3.OperationalError as exc:
            if "no such column" in str(exc):
                return []
            raise

    def count(self) -> int:
        """How many calls are stored."""
        return self._read(queries.count, 0)

    def records(self) -> Iterator[CallRecord]:
        """Every call, oldest first, streamed a chunk at a time."""
        try:
            conn = connect_reader(self.path)
        except sqlite3.OperationalError as exc:
            if _missing(exc):
                return
            raise
        if conn is None:
            return
        try:
            yield from queries.iter_records(conn)
        except sqlite3.OperationalError as exc:
            if not _missing(exc):
                raise
        finally:
            conn.close()
