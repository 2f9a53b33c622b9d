"""Call stores written by earlier versions (``user_version`` 0, tables already there) open
through :func:`ivr.core.sqlitedb.open_private_db` with every call kept."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.core.callstore import CallQuery, CallStore, CallStoreReader
from ivr.core.callstore.schema import SCHEMA_VERSION, connect_writer
from ivr.core.sqlitedb import SchemaTooNew

# The schema as the first call store created it (no calls.caller_key), copied verbatim.
FIRST_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    number TEXT,
    caller_masked TEXT,
    region TEXT,
    steps INTEGER NOT NULL DEFAULT 0
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
# What the previous version added on every open (caller links), left at user_version 0.
CALLER_KEY = """
ALTER TABLE calls ADD COLUMN caller_key TEXT;
CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller_key, first_at);
"""
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _old_database(path: Path, *, with_caller_key: bool) -> None:
    """A call store as an earlier version left it: two steps of one call, a meta row."""
    path.touch(mode=0o600)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(FIRST_SCHEMA + (CALLER_KEY if with_caller_key else ""))
    db.execute("INSERT INTO calls (call_id, first_at, last_at, number, caller_masked, region, "
               "steps) VALUES ('old-1', ?, ?, '12345', '138****8000', 'east', 2)",
               (AT.timestamp(), AT.timestamp() + 30))
    for step, at in (("decided", AT), ("hangup", AT.replace(second=30))):
        db.execute("INSERT INTO steps (call_id, step, at, data) VALUES ('old-1', ?, ?, ?)",
                   (step, at.isoformat(), json.dumps({"number": "12345"})))
    db.execute("INSERT INTO meta (key, value) VALUES ('legacy_imported', '1')")
    db.commit()
    db.close()


@pytest.mark.parametrize("with_caller_key", [False, True],
                         ids=["first-version", "previous-version"])
def test_an_earlier_call_store_opens_with_its_calls(tmp_path: Path,
                                                    with_caller_key: bool) -> None:
    path = tmp_path / "calls.db"
    _old_database(path, with_caller_key=with_caller_key)
    store = CallStore(path)
    store.open()
    store.append("new-1", "decided", AT.replace(hour=10), number="12345")
    store.close()

    reader = CallStoreReader(path)
    old = reader.get("old-1")
    assert old is not None
    assert [s["step"] for s in old.steps] == ["decided", "hangup"]
    assert [r.call_id for r in reader.calls(CallQuery(number="12345"))] == ["old-1", "new-1"]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    assert "caller_key" in {r[1] for r in db.execute("PRAGMA table_info(calls)")}
    assert db.execute("SELECT value FROM meta WHERE key = 'legacy_imported'").fetchone() == ("1",)
    db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_call_store_has_todays_schema(tmp_path: Path) -> None:
    path = tmp_path / "run" / "calls.db"
    conn = connect_writer(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                          "AND name NOT LIKE 'sqlite_%'")}
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA journal_size_limit").fetchone()[0] == 67108864
    conn.close()
    assert tables == {"calls", "steps", "meta"}
    assert indexes == {"steps_call", "calls_first_at", "calls_number", "calls_last_at",
                       "calls_caller"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_synchronous_is_passed_through_for_bulk_loads(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "calls.db", synchronous="OFF")
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 0
    conn.close()


def test_a_call_store_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    connect_writer(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaTooNew, match="newer"):
        connect_writer(path)
