"""A recordings index and audit trail written by an earlier version (``user_version`` 0,
tables already there) opens through :func:`ivr.core.sqlitedb.open_private_db`, rows kept."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from ivr.quality.store import SCHEMA_VERSION, AuditEntry, QualityStore, Recording

# The schema as earlier versions created it on every write, copied verbatim.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings(
    path TEXT PRIMARY KEY,
    call_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL DEFAULT '',
    started_at TEXT,
    ended_at TEXT,
    duration_s REAL,
    size_bytes INTEGER,
    parties TEXT NOT NULL DEFAULT '[]',
    agent TEXT,
    line TEXT,
    skill TEXT,
    caller_masked TEXT,
    deleted_at TEXT,
    deleted_reason TEXT
);
CREATE INDEX IF NOT EXISTS recordings_call ON recordings(call_id);
CREATE INDEX IF NOT EXISTS recordings_started ON recordings(started_at);
CREATE TABLE IF NOT EXISTS audit(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    call_id TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL DEFAULT '',
    ended_at TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are never edited'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are never deleted'); END;
"""


def _old_database(path: Path) -> None:
    path.parent.mkdir(mode=0o700)
    path.touch(mode=0o600)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO recordings (path, call_id, kind, format, started_at, parties, agent) "
               "VALUES ('/rec/old-1.wav', 'old-1', 'conversation', 'wav', "
               "'2026-11-20T09:00:00+08:00', '[\"1001\"]', '1001')")
    db.execute("INSERT INTO audit (at, actor, action, subject, call_id, mode) VALUES "
               "('2026-11-20T09:01:00+08:00', 'lead-1', 'monitor_start', '1001', 'old-1', "
               "'listen')")
    db.close()


def test_an_earlier_quality_database_opens_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "run" / "quality.db"
    _old_database(path)
    store = QualityStore(path)
    store.audit(AuditEntry(at="2026-11-20T09:05:00+08:00", actor="lead-1", action="monitor_end",
                           subject="1001", call_id="old-1"))
    store.upsert(Recording(path="/rec/new-1.wav", call_id="new-1", kind="conversation",
                           started_at="2026-11-21T09:00:00+08:00", agent="1001"))

    assert [r.call_id for r in store.recordings(agent="1001")] == ["new-1", "old-1"]
    assert [(e.id, e.action) for e in store.audit_entries()] == \
        [(1, "monitor_start"), (2, "monitor_end")]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    with pytest.raises(sqlite3.IntegrityError, match="never edited"):
        db.execute("UPDATE audit SET actor = 'someone else'")
    db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_quality_database_is_private_and_reading_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "run" / "quality.db"
    store = QualityStore(path)
    assert store.recordings() == [] and store.audit_entries() == []
    assert not path.exists()
    store.audit(AuditEntry(at="2026-11-20T09:00:00+08:00", actor="lead-1", action="export"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
