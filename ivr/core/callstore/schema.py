"""The call store's tables, how a step becomes a row, and opening the database file.

``calls`` holds one row per call (first and last step times as epoch seconds, the
dialled number, the masked caller, the region, the caller's keyed hash linking the calls
of one caller: :mod:`ivr.core.callstore.callerkey`), kept up to date on every insert;
``steps`` holds every step, its fields as JSON text.  Times are filtered through the
indexes on ``calls``; a call's steps through the index on ``steps(call_id)``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

# (call_id, step, at ISO text, at epoch seconds, data JSON, number, caller, region, caller key)
Row = tuple[str, str, str, float, str, str | None, str | None, str | None, str | None]

BASE_FIELDS = ("call_id", "step", "at")

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    number TEXT,
    caller_masked TEXT,
    region TEXT,
    steps INTEGER NOT NULL DEFAULT 0,
    caller_key TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    step TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS steps_call ON steps(call_id);
CREATE INDEX IF NOT EXISTS calls_first_at ON calls(first_at);
CREATE INDEX IF NOT EXISTS calls_number ON calls(number, first_at);
CREATE INDEX IF NOT EXISTS calls_last_at ON calls(last_at);
"""

_INSERT_STEP = "INSERT INTO steps(call_id, step, at, data) VALUES (?, ?, ?, ?)"
_UPSERT_CALL = """
INSERT INTO calls(call_id, first_at, last_at, number, caller_masked, region, caller_key, steps)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(call_id) DO UPDATE SET
    first_at = MIN(first_at, excluded.first_at),
    last_at = MAX(last_at, excluded.last_at),
    number = COALESCE(number, excluded.number),
    caller_masked = COALESCE(caller_masked, excluded.caller_masked),
    region = COALESCE(region, excluded.region),
    caller_key = COALESCE(caller_key, excluded.caller_key),
    steps = steps + excluded.steps
"""


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def step_row(call_id: str, step: str, at: str | datetime, data: Mapping[str, Any],
             caller_key: str | None = None) -> Row:
    """The row for one step; ``at`` a datetime or ISO text (naive means local time);
    ``caller_key`` (the ``decided`` step's) links the calls of one caller."""
    when = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    fields = {k: v for k, v in data.items() if k not in BASE_FIELDS}
    text = json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str)
    decided = step == "decided"
    return (str(call_id), str(step), at if isinstance(at, str) else at.isoformat(), when.timestamp(),
            text, _text(data.get("number")) if decided else None,
            _text(data.get("caller")) if decided else None,
            _text(data.get("region")) if decided else None, caller_key if decided else None)


def entry(call_id: str, step: str, at: str, data: str) -> dict[str, Any]:
    """A stored step as the dict a journal line was: every field, keys sorted."""
    fields: dict[str, Any] = json.loads(data)
    fields.update(call_id=call_id, step=step, at=at)
    return dict(sorted(fields.items()))


def insert_rows(conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Insert steps and bring their calls' rows up to date (inside the caller's transaction)."""
    conn.executemany(_INSERT_STEP, [(r[0], r[1], r[2], r[4]) for r in rows])
    calls: dict[str, list[Any]] = {}
    for call_id, _, _, at_s, _, number, caller, region, key in rows:
        agg = calls.get(call_id)
        if agg is None:
            calls[call_id] = [at_s, at_s, number, caller, region, key, 1]
            continue
        agg[0] = min(agg[0], at_s)
        agg[1] = max(agg[1], at_s)
        agg[2] = agg[2] if agg[2] is not None else number
        agg[3] = agg[3] if agg[3] is not None else caller
        agg[4] = agg[4] if agg[4] is not None else region
        agg[5] = agg[5] if agg[5] is not None else key
        agg[6] += 1
    conn.executemany(_UPSERT_CALL, [(call_id, *agg) for call_id, agg in calls.items()])


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a database made by an earlier version up to this schema, in place:
    ``calls.caller_key`` (added empty: earlier calls stay unlinked) and its index."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
    if "caller_key" not in columns:
        conn.execute("ALTER TABLE calls ADD COLUMN caller_key TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller_key, first_at)")


def create_private(path: Path) -> None:
    """Create the database file 0600 (its directory 0700) before SQLite opens it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))


def connect_writer(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """The read-write connection (WAL, durable on commit) with the schema in place.

    SQLite creates ``-wal`` and ``-shm`` with the main file's mode, so they are 0600 too.
    """
    create_private(path)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA journal_size_limit=67108864")
        conn.executescript(SCHEMA)
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> sqlite3.Connection | None:
    """A read-only connection (``mode=ro``), or None when there is no database yet."""
    if not path.exists():
        return None
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True,
                           isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn
