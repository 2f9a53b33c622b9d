"""Callback entries: callers who found no agent, hung up waiting, or asked to be called back.

They need the real number (to call back), so they live in their own SQLite file (WAL,
``synchronous=FULL``) with owner-only permissions; listings, logs and events show the
number masked.  Every state change goes through the transition table
(:mod:`ivr.callbacks.model`) and is a conditional ``UPDATE … WHERE state = ?``, so two
writers (the controller, ``hotline callbacks cancel``) cannot both win.  Methods block:
the controller calls them in a thread.

The table of earlier versions (``id, call_id, caller, skill, requested_at, done_at``) is
migrated in place: the new columns are added with defaults, old rows become pending
``no_agents`` entries (or ``connected`` where ``done_at`` was set).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.callbacks.model import (
    OPEN,
    CallbackState,
    Entry,
    Outcome,
    Reason,
    UnknownCallback,
    after_attempt,
    check_move,
)
from ivr.core.sqlitedb import Migration, open_private_db, write_transaction
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
#: columns added to the table of earlier versions (name, declaration)
COLUMNS = (
    ("reason", "TEXT NOT NULL DEFAULT 'no_agents'"),
    ("state", "TEXT NOT NULL DEFAULT 'pending'"),
    ("attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("last_attempt_at", "TEXT"),
    ("last_outcome", "TEXT"),
    ("agent", "TEXT"),
    ("closed_at", "TEXT"),
    ("held", "TEXT NOT NULL DEFAULT ''"),
    ("dial_key", "TEXT"),  # the attempt in progress (channel id, AstDB key)
)
ATTEMPTS = """
CREATE TABLE IF NOT EXISTS callback_attempts (
    callback_id INTEGER NOT NULL,
    agent TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT
)
"""
_FIELDS = ("id, call_id, caller, skill, reason, requested_at, state, attempts, "
           "last_attempt_at, last_outcome, agent, closed_at, held, dial_key")


def _upgrade(db: sqlite3.Connection) -> None:
    """Today's tables, from nothing or from a table of an earlier version (which left
    ``user_version`` at 0): missing columns added, old called-back rows ``connected``."""
    db.execute(SCHEMA)
    have = {r[1] for r in db.execute("PRAGMA table_info(callbacks)")}
    for name, declaration in COLUMNS:
        if name not in have:
            db.execute(f"ALTER TABLE callbacks ADD COLUMN {name} {declaration}")
    if "state" not in have:  # rows of the old version that were called back
        db.execute("UPDATE callbacks SET state = 'connected', closed_at = done_at "
                   "WHERE done_at IS NOT NULL")
    db.execute(ATTEMPTS)
    db.execute("CREATE INDEX IF NOT EXISTS callbacks_state ON callbacks (state, requested_at)")
    db.execute("CREATE INDEX IF NOT EXISTS callbacks_caller ON callbacks (caller)")


# MIGRATIONS[n] takes a database from ``user_version`` n to n + 1 (:mod:`ivr.core.sqlitedb`);
# step 0 is idempotent (earlier versions left their tables at ``user_version`` 0).
MIGRATIONS: tuple[tuple[Migration, ...], ...] = ((_upgrade,),)
SCHEMA_VERSION = len(MIGRATIONS)


def _dt(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


def _entry(row: tuple[Any, ...]) -> Entry:
    return Entry(
        id=row[0], call_id=row[1], number=row[2], skill=row[3], reason=Reason(row[4]),
        requested_at=datetime.fromisoformat(row[5]), state=CallbackState(row[6]),
        attempts=row[7], last_attempt_at=_dt(row[8]),
        last_outcome=Outcome(row[9]) if row[9] else None, agent=row[10],
        closed_at=_dt(row[11]), held=row[12] or "", dial_key=row[13])


class CallbackStore:
    """Durable callback entries (SQLite, WAL, one row per request)."""

    def __init__(self, path: Path) -> None:
        # 0600 from creation (never through a link), WAL, synchronous=FULL, migrated
        self._lock = threading.Lock()
        self._db = open_private_db(path, MIGRATIONS, busy_timeout_ms=10_000)

    def _select(self, where: str = "", args: Iterable[Any] = ()) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_FIELDS} FROM callbacks {where}",
                                    tuple(args)).fetchall()
        return [_entry(r) for r in rows]

    def get(self, entry_id: int) -> Entry:
        """One entry (:class:`UnknownCallback` when there is none)."""
        found = self._select("WHERE id = ?", (entry_id,))
        if not found:
            raise UnknownCallback(f"no callback {entry_id}")
        return found[0]

    def add(self, call_id: str, number: str, skill: str, at: datetime,
            reason: Reason = Reason.NO_AGENTS) -> Entry | None:
        """Record a request; None when the call already has one or the number already has an
        open entry (that one keeps its place in line)."""
        with write_transaction(self._db, self._lock) as db:
            open_states = tuple(s.value for s in OPEN)
            if db.execute("SELECT 1 FROM callbacks WHERE call_id = ? OR (caller = ? AND state IN "
                          "(?, ?))", (call_id, number, *open_states)).fetchone():
                return None
            cursor = db.execute(
                "INSERT INTO callbacks (call_id, caller, skill, requested_at, reason, state) "
                "VALUES (?, ?, ?, ?, ?, 'pending')",
                (call_id, number, skill, at.isoformat(), reason.value))
        return self.get(int(cursor.lastrowid or 0))

    def open_entries(self) -> list[Entry]:
        """Pending and dialling entries, oldest request first."""
        return self._select("WHERE state IN ('pending', 'dialling') ORDER BY requested_at, id")

    def listing(self, everything: bool = False, limit: int = 200) -> list[Entry]:
        """Open entries (or every entry, newest first) for ``hotline callbacks``."""
        if everything:
            return self._select("ORDER BY id DESC LIMIT ?", (limit,))
        return self.open_entries()

    def _move(self, entry: Entry, wanted: CallbackState, **columns: Any) -> Entry:
        """Apply one transition: checked against the table, written only if nobody moved the
        entry meanwhile (else :class:`~ivr.callbacks.model.IllegalCallbackTransition`
        from the state found)."""
        check_move(entry.id, entry.state, wanted)
        sets = ", ".join(f"{name} = ?" for name in ("state", *columns))
        with self._lock:
            cursor = self._db.execute(
                f"UPDATE callbacks SET {sets} WHERE id = ? AND state = ?",
                (wanted.value, *columns.values(), entry.id, entry.state.value))
        if cursor.rowcount != 1:
            fresh = self.get(entry.id)
            check_move(entry.id, fresh.state, wanted)
            return self._move(fresh, wanted, **columns)
        return self.get(entry.id)

    def mark_dialling(self, entry: Entry, agent: str, key: str, at: datetime) -> Entry:
        """Durably ``dialling`` (committed, synchronous=FULL) before the Originate is sent."""
        moved = self._move(entry, CallbackState.DIALLING, agent=agent, held="", dial_key=key)
        with self._lock:
            self._db.execute("INSERT INTO callback_attempts (callback_id, agent, started_at) "
                             "VALUES (?, ?, ?)", (entry.id, agent, at.isoformat()))
        return moved

    def finish_attempt(self, entry_id: int, outcome: Outcome, at: datetime,
                       max_attempts: int) -> Entry:
        """End the attempt in progress: connected, back to pending, or failed."""
        entry = self.get(entry_id)
        counted = outcome is not Outcome.AGENT_NO_ANSWER
        attempts = entry.attempts + (1 if counted else 0)
        wanted = after_attempt(attempts, outcome, max_attempts)
        columns: dict[str, Any] = {"attempts": attempts, "last_outcome": outcome.value}
        if counted:
            columns["last_attempt_at"] = at.isoformat()
        if wanted is not CallbackState.PENDING:
            columns["closed_at"] = at.isoformat()
        moved = self._move(entry, wanted, **columns)
        with self._lock:
            self._db.execute(
                "UPDATE callback_attempts SET ended_at = ?, outcome = ? WHERE rowid = "
                "(SELECT MAX(rowid) FROM callback_attempts WHERE callback_id = ?)",
                (at.isoformat(), outcome.value, entry_id))
        return moved

    def close_entry(self, entry_id: int, wanted: CallbackState, at: datetime) -> Entry:
        """Cancel or expire a pending entry."""
        outcome = Outcome.CANCELLED if wanted is CallbackState.CANCELLED else Outcome.EXPIRED
        return self._move(self.get(entry_id), wanted, last_outcome=outcome.value,
                          closed_at=at.isoformat(), held="")

    def pending_for_number(self, number: str, except_call_id: str = "") -> list[Entry]:
        """Pending entries of a number (its new call cancels them), other calls' only."""
        return self._select("WHERE caller = ? AND state = 'pending' AND call_id != ?",
                            (number, except_call_id))

    def set_held(self, held: dict[int, str]) -> None:
        """Record why pending entries wait (only those that changed are written)."""
        if not held:
            return
        with self._lock:
            self._db.executemany("UPDATE callbacks SET held = ? WHERE id = ? AND held != ?",
                                 [(text, entry_id, text) for entry_id, text in held.items()])

    def connected_at(self, since: datetime) -> dict[str, datetime]:
        """Per number, the last connected callback after ``since``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT caller, closed_at FROM callbacks WHERE state = 'connected' "
                "AND closed_at IS NOT NULL").fetchall()
        out: dict[str, datetime] = {}
        for number, raw in rows:
            at = datetime.fromisoformat(raw)
            if at >= since and (number not in out or at > out[number]):
                out[number] = at
        return out

    def pending(self) -> list[Entry]:
        """Open entries, oldest first (kept for callers of the earlier API)."""
        return self.open_entries()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def masked_rows(entries: Iterable[Entry]) -> list[dict[str, object]]:
    """Entries as JSON-ready rows, numbers masked."""
    return [e.to_json() for e in entries]


__all__ = ["CallbackStore", "mask_number", "masked_rows"]
