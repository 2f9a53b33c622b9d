"""The call store's tables, how a step becomes a row, and opening the database file.

``calls`` holds one row per call (first and last step times as epoch seconds, the
dialled number, the masked caller, the region, the caller's keyed hash linking the calls
of one caller: :mod:`ivr.core.callstore.callerkey`), kept up to date on every insert;
``steps`` holds every step, its fields as JSON text.  Times are filtered through the
indexes on ``calls``; a call's steps through the index on ``steps(call_id)``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.core.sqlitedb import Migration, open_private_db

# (call_id, step, at ISO text, at epoch seconds, data JSON, number, caller, region, caller key)
Row = tuple[str, str, str, float, str, str | None, str | None, str | None, str | None]

BASE_FIELDS = ("call_id", "step", "at")

# The tables and indexes, each ``IF NOT EXISTS``: a database of an earlier version
# (``user_version`` 0, its tables already there) passes through them unchanged.
SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    number TEXT,
    caller_masked TEXT,
    region TEXT,
    steps INTEGER NOT NULL DEFAULT 0,
    caller_key TEXT
)""",
    """CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    step TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL
)""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS steps_call ON steps(call_id)",
    "CREATE INDEX IF NOT EXISTS calls_first_at ON calls(first_at)",
    "CREATE INDEX IF NOT EXISTS calls_number ON calls(number, first_at)",
    "CREATE INDEX IF NOT EXISTS calls_last_at ON calls(last_at)",
)

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


def add_caller_key(conn: sqlite3.Connection) -> None:
    """Bring a database made by an earlier version up to this schema, in place:
    ``calls.caller_key`` (added empty: earlier calls stay unlinked) and its index."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(calls)")}
    if "caller_key" not in columns:
        conn.execute("ALTER TABLE calls ADD COLUMN caller_key TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller_key, first_at)")


# MIGRATIONS[n] takes a database from ``user_version`` n to n + 1 (:mod:`ivr.core.sqlitedb`).
# Step 0 is idempotent: databases of earlier versions were left at ``user_version`` 0 with
# their tables in place (with or without ``calls.caller_key``).
MIGRATIONS: tuple[tuple[Migration, ...], ...] = (
    (*SCHEMA, add_caller_key),
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect_writer(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """The read-write connection (WAL, durable on commit unless ``synchronous`` says
    otherwise) with the schema in place: :func:`ivr.core.sqlitedb.open_private_db` (the
    file 0600, its directory 0700; ``-wal`` and ``-shm`` take the file's mode)."""
    conn = open_private_db(path, MIGRATIONS, synchronous=synchronous)
    try:
        conn.execute("PRAGMA journal_size_limit=67108864")
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
