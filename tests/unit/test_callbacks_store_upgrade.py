"""Callback databases written by earlier versions (``user_version`` 0: the first version's
table, or the previous version's migrated one) open through
:func:`ivr.core.sqlitedb.open_private_db` with every entry kept."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.callbacks.model import CallbackState, Outcome, Reason
from ivr.callbacks.store import SCHEMA_VERSION, CallbackStore
from ivr.core.sqlitedb import SchemaTooNew

AT = datetime(2025, 3, 3, 4, 0, tzinfo=UTC)
# The first version's table, copied verbatim.
FIRST_SCHEMA = """
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL UNIQUE,
    caller TEXT NOT NULL,
    skill TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    done_at TEXT
)
"""
# What the previous version's migration added on top of it (and left at user_version 0).
PREVIOUS_UPGRADE = (
    "ALTER TABLE callbacks ADD COLUMN reason TEXT NOT NULL DEFAULT 'no_agents'",
    "ALTER TABLE callbacks ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'",
    "ALTER TABLE callbacks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE callbacks ADD COLUMN last_attempt_at TEXT",
    "ALTER TABLE callbacks ADD COLUMN last_outcome TEXT",
    "ALTER TABLE callbacks ADD COLUMN agent TEXT",
    "ALTER TABLE callbacks ADD COLUMN closed_at TEXT",
    "ALTER TABLE callbacks ADD COLUMN held TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE callbacks ADD COLUMN dial_key TEXT",
    """CREATE TABLE IF NOT EXISTS callback_attempts (
    callback_id INTEGER NOT NULL,
    agent TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT
)""",
    "CREATE INDEX IF NOT EXISTS callbacks_state ON callbacks (state, requested_at)",
    "CREATE INDEX IF NOT EXISTS callbacks_caller ON callbacks (caller)",
)


def _connect_old(path: Path) -> sqlite3.Connection:
    path.touch(mode=0o600)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(FIRST_SCHEMA)
    return db


def _version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()
    return version


def test_the_previous_versions_database_opens_with_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.db"
    db = _connect_old(path)
    for statement in PREVIOUS_UPGRADE:
        db.execute(statement)
    db.execute("INSERT INTO callbacks (call_id, caller, skill, requested_at, reason, state, "
               "attempts, last_attempt_at, last_outcome, agent, held) VALUES "
               "('prev-1', '13800000001', 'tax', ?, 'abandoned', 'pending', 1, ?, "
               "'no_answer', '1001', 'no agent free')", (AT.isoformat(), AT.isoformat()))
    db.execute("INSERT INTO callback_attempts (callback_id, agent, started_at, ended_at, "
               "outcome) VALUES (1, '1001', ?, ?, 'no_answer')", (AT.isoformat(), AT.isoformat()))
    db.close()

    store = CallbackStore(path)
    [entry] = store.open_entries()
    assert (entry.call_id, entry.reason, entry.state, entry.attempts, entry.last_outcome,
            entry.held) == ("prev-1", Reason.ABANDONED, CallbackState.PENDING, 1,
                            Outcome.NO_ANSWER, "no agent free")
    store.mark_dialling(entry, "1002", "key-1", AT.replace(hour=5))
    assert store.get(entry.id).state is CallbackState.DIALLING
    store.close()
    assert _version(path) == SCHEMA_VERSION == 1
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM callback_attempts").fetchone()[0] == 2
    db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_first_versions_table_is_upgraded_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.db"
    db = _connect_old(path)
    db.execute("INSERT INTO callbacks (call_id, caller, skill, requested_at, done_at) VALUES "
               "('old-1', '13800000002', 'tax', ?, ?)", (AT.isoformat(), AT.isoformat()))
    db.close()
    CallbackStore(path).close()
    assert _version(path) == 1
    store = CallbackStore(path)  # opened again: nothing left to do
    old = store.get(1)
    assert (old.call_id, old.state, old.reason, old.closed_at) == \
        ("old-1", CallbackState.CONNECTED, Reason.NO_AGENTS, AT)
    store.close()


def test_a_callbacks_database_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.db"
    CallbackStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaTooNew, match="newer"):
        CallbackStore(path)
