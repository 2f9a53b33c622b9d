"""Reading calls back (by id, by query, all of them) and expiring old ones.

Every function takes a connection; the writer thread and the read-only reader share them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from ivr.core.callstore.record import CallQuery, CallRecord
from ivr.core.callstore.schema import entry

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


def get(conn: sqlite3.Connection, call_id: str) -> CallRecord | None:
    """One call's record, or None."""
    rows = conn.execute("SELECT step, at, data FROM steps WHERE call_id = ? ORDER BY id",
                        (call_id,)).fetchall()
    if not rows:
        return None
    return CallRecord(call_id, [entry(call_id, step, at, data) for step, at, data in rows])


def select_ids(conn: sqlite3.Connection, query: CallQuery) -> list[str]:
    """The ids of the calls ``query`` selects, oldest first."""
    where: list[str] = []
    params: list[Any] = []
    if query.since is not None:
        where.append("first_at >= ?")
        params.append(query.since.timestamp())
    if query.until is not None:
        where.append("first_at < ?")
        params.append(query.until.timestamp())
    if query.number is not None:
        where.append("number = ?")
        params.append(query.number)
    newest = query.last is not None
    order = "first_at DESC, rowid DESC" if newest else "first_at, rowid"
    sql = (f"SELECT call_id FROM calls {'WHERE ' + ' AND '.join(where) if where else ''} "
           f"ORDER BY {order} LIMIT ? OFFSET ?")
    limit = query.last if query.last is not None else query.limit
    ids = [row[0] for row in conn.execute(sql, (*params, limit, query.offset))]
    return ids[::-1] if newest else ids


def same_caller_ids(conn: sqlite3.Connection, call_id: str, limit: int) -> list[str]:
    """The ids of the other calls of ``call_id``'s caller (linked by ``caller_key``),
    newest first, at most ``limit``; none when the call has no key."""
    row = conn.execute("SELECT caller_key, first_at FROM calls WHERE call_id = ?",
                       (call_id,)).fetchone()
    if row is None or row[0] is None:
        return []
    return [found[0] for found in conn.execute(
        "SELECT call_id FROM calls WHERE caller_key = ? AND call_id != ? AND first_at <= ? "
        "ORDER BY first_at DESC, rowid DESC LIMIT ?", (row[0], call_id, row[1], limit))]


def set_caller_key(conn: sqlite3.Connection, call_id: str, key: str) -> None:
    """Link a call already recorded to its caller (inside the writer's open transaction)."""
    conn.execute("UPDATE calls SET caller_key = ? WHERE call_id = ? AND caller_key IS NULL",
                 (key, call_id))


def same_caller(conn: sqlite3.Connection, call_id: str, limit: int) -> list[CallRecord]:
    """The earlier calls of ``call_id``'s caller, newest first, at most ``limit``."""
    return load(conn, same_caller_ids(conn, call_id, limit))


def load(conn: sqlite3.Connection, ids: Sequence[str]) -> list[CallRecord]:
    """The records of ``ids``, in that order (ids without steps are left out)."""
    records = {call_id: CallRecord(call_id) for call_id in ids}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for call_id, step, at, data in conn.execute(
                f"SELECT call_id, step, at, data FROM steps WHERE call_id IN ({marks}) "
                "ORDER BY call_id, id", chunk):
            records[call_id].steps.append(entry(call_id, step, at, data))
    return [record for record in records.values() if record.steps]


def calls(conn: sqlite3.Connection, query: CallQuery) -> list[CallRecord]:
    """The records ``query`` selects, oldest first."""
    return load(conn, select_ids(conn, query))


def iter_records(conn: sqlite3.Connection) -> Iterator[CallRecord]:
    """Every call, oldest first, a chunk of calls at a time."""
    cursor = conn.execute("SELECT call_id FROM calls ORDER BY first_at, rowid")
    try:
        while chunk := cursor.fetchmany(_CHUNK):
            yield from load(conn, [row[0] for row in chunk])
    finally:
        cursor.close()


def count(conn: sqlite3.Connection) -> int:
    """How many calls there are."""
    row = conn.execute("SELECT COUNT(*) FROM calls").fetchone()
    return int(row[0])


def expire(conn: sqlite3.Connection, before_s: float) -> int:
    """Delete the calls whose last step is older than ``before_s`` (epoch seconds).

    One short transaction per chunk, so appends queued meanwhile wait little; the
    connection must not be inside a transaction.
    """
    deleted = 0
    while True:
        ids = [row[0] for row in conn.execute(
            "SELECT call_id FROM calls WHERE last_at < ? LIMIT ?", (before_s, _CHUNK))]
        if not ids:
            return deleted
        marks = ",".join("?" * len(ids))
        conn.execute("BEGIN")
        try:
            conn.execute(f"DELETE FROM steps WHERE call_id IN ({marks})", ids)
            conn.execute(f"DELETE FROM calls WHERE call_id IN ({marks})", ids)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        deleted += len(ids)
