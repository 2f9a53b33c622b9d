"""The recordings index and the audit trail: ``$HOTLINE_RUN_DIR/quality.db`` (SQLite, 0600).

``recordings``: one row per file (a call's conversation, its listening segment), written
by the controller when the call ends and when retention deletes the file.  ``audit``:
append-only (SQLite triggers refuse UPDATE and DELETE), one row per monitoring session
step, recording export and retention deletion.  Nothing in the engine edits either.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ivr.core.sqlitedb import migrate, open_private_db

DB_NAME = "quality.db"

# MIGRATIONS[n] takes a database from ``user_version`` n to n + 1 (:mod:`ivr.core.sqlitedb`).
# Step 0 is idempotent (every statement ``IF NOT EXISTS``): earlier versions created these
# tables and left ``user_version`` at 0.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS recordings(
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
        )""",
        "CREATE INDEX IF NOT EXISTS recordings_call ON recordings(call_id)",
        "CREATE INDEX IF NOT EXISTS recordings_started ON recordings(started_at)",
        """CREATE TABLE IF NOT EXISTS audit(
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
        )""",
        "CREATE INDEX IF NOT EXISTS audit_at ON audit(at)",
        """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit entries are never edited'); END""",
        """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit entries are never deleted'); END""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class Recording:
    """One recording file and what the engine knows about it."""

    path: str
    call_id: str
    kind: str  # conversation | listening
    format: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    size_bytes: int | None = None
    parties: list[str] = field(default_factory=list)
    agent: str | None = None
    line: str | None = None
    skill: str | None = None
    caller_masked: str | None = None
    deleted_at: str | None = None
    deleted_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditEntry:
    """Who did what to whom: a monitoring session step, an export, a deletion."""

    at: str
    actor: str
    action: str  # monitor_start | monitor_mode | monitor_end | monitor_refused | export |
    #              retention_delete
    subject: str = ""  # the agent monitored, the file exported or deleted
    call_id: str = ""
    mode: str = ""  # listen | whisper | barge
    started_at: str = ""
    ended_at: str = ""
    outcome: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = ("path", "call_id", "kind", "format", "started_at", "ended_at", "duration_s",
            "size_bytes", "parties", "agent", "line", "skill", "caller_masked", "deleted_at",
            "deleted_reason")


class QualityStore:
    """Short-lived connections (the writers are a task in a thread and the CLI)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _conn(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        if write:  # 0600 from creation (never through a link), WAL, synchronous=FULL, migrated
            conn = open_private_db(self.path, MIGRATIONS)
        elif not self.path.exists():  # nothing written yet: an empty database, nothing created
            conn = sqlite3.connect(":memory:", isolation_level=None)
            migrate(conn, MIGRATIONS)
        else:
            conn = sqlite3.connect(str(self.path), timeout=5.0, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    # --- recordings -------------------------------------------------------------------------

    def upsert(self, rec: Recording) -> None:
        """Insert or replace what the engine knows of a file (never a deleted one's deletion)."""
        values = [getattr(rec, c) for c in _COLUMNS]
        values[_COLUMNS.index("parties")] = json.dumps(rec.parties, ensure_ascii=False)
        with self._conn() as conn:
            conn.execute(f"INSERT INTO recordings({','.join(_COLUMNS)}) "
                         f"VALUES({','.join('?' * len(_COLUMNS))}) "
                         "ON CONFLICT(path) DO UPDATE SET "
                         + ",".join(f"{c}=excluded.{c}" for c in _COLUMNS[1:]
                                    if c not in ("deleted_at", "deleted_reason")),
                         values)

    def mark_deleted(self, path: str, call_id: str, kind: str, at: str, reason: str) -> None:
        with self._conn() as conn:
            conn.execute("INSERT INTO recordings(path, call_id, kind, deleted_at, deleted_reason) "
                         "VALUES(?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET "
                         "deleted_at=excluded.deleted_at, deleted_reason=excluded.deleted_reason",
                         (path, call_id, kind, at, reason))

    def recordings(self, *, call_id: str | None = None, agent: str | None = None,
                   since: str | None = None, deleted: bool = False,
                   limit: int = 1000) -> list[Recording]:
        where: list[str] = []
        args: list[Any] = []
        if call_id:
            where.append("call_id = ?")
            args.append(call_id)
        if agent:
            where.append("(agent = ? OR parties LIKE ?)")
            args.extend([agent, f'%"{agent}"%'])
        if since:
            where.append("started_at >= ?")
            args.append(since)
        if not deleted:
            where.append("deleted_at IS NULL")
        sql = (f"SELECT {','.join(_COLUMNS)} FROM recordings"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY started_at DESC, path LIMIT ?")
        with self._conn(write=False) as conn:
            rows = conn.execute(sql, [*args, limit]).fetchall()
        out = []
        for row in rows:
            data = dict(zip(_COLUMNS, row, strict=True))
            data["parties"] = json.loads(data["parties"] or "[]")
            out.append(Recording(**data))
        return out

    # --- audit ------------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> AuditEntry:
        with self._conn() as conn:
            cur = conn.execute(
                "INSERT INTO audit(at, actor, action, subject, call_id, mode, started_at, "
                "ended_at, outcome, detail) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (entry.at, entry.actor, entry.action, entry.subject, entry.call_id, entry.mode,
                 entry.started_at, entry.ended_at, entry.outcome,
                 json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)))
            entry.id = cur.lastrowid
        return entry

    def audit_entries(self, *, after_id: int = 0, since: str | None = None,
                      actor: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        where: list[str] = ["id > ?"]
        args: list[Any] = [after_id]
        if since:
            where.append("at >= ?")
            args.append(since)
        if actor:
            where.append("actor = ?")
            args.append(actor)
        sql = ("SELECT id, at, actor, action, subject, call_id, mode, started_at, ended_at, "
               "outcome, detail FROM audit WHERE " + " AND ".join(where)
               + " ORDER BY id LIMIT ?")
        with self._conn(write=False) as conn:
            rows = conn.execute(sql, [*args, limit]).fetchall()
        return [AuditEntry(id=r[0], at=r[1], actor=r[2], action=r[3], subject=r[4], call_id=r[5],
                           mode=r[6], started_at=r[7], ended_at=r[8], outcome=r[9],
                           detail=json.loads(r[10] or "{}")) for r in rows]
