"""Callback requests: callers who found no agent and were promised a call back.

They need the real number (to call back), so they live in their own SQLite file
with owner-only permissions, never in logs; listings show the number masked.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ivr.core.rundir import create_private
from ivr.masking import mask_number

SCHEMA = """
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL UNIQUE,
    caller TEXT NOT NULL,
    skill TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    done_at TEXT
)
"""


@dataclass(frozen=True)
class CallbackRequest:
    """One promised call back."""

    id: int
    call_id: str
    caller_masked: str
    skill: str
    requested_at: str
    done_at: str | None


class CallbackStore:
    """Durable callback requests (SQLite, WAL, one row per call)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # 0600 from creation (exclusive, never through a link), before SQLite opens it:
        # SQLite gives its -wal and -shm files the main file's mode
        create_private(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def add(self, call_id: str, caller: str, skill: str, at: datetime) -> None:
        """Record a request (a second event for the same call is ignored)."""
        self._db.execute(
            "INSERT OR IGNORE INTO callbacks (call_id, caller, skill, requested_at) "
            "VALUES (?, ?, ?, ?)", (call_id, caller, skill, at.isoformat()))

    def pending(self) -> list[CallbackRequest]:
        """Requests not yet called back, oldest first, numbers masked."""
        rows = self._db.execute(
            "SELECT id, call_id, caller, skill, requested_at, done_at FROM callbacks "
            "WHERE done_at IS NULL ORDER BY id").fetchall()
        return [CallbackRequest(r[0], r[1], mask_number(r[2]), r[3], r[4], r[5]) for r in rows]

    def close(self) -> None:
        """Close the database."""
        self._db.close()
