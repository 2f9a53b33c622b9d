"""Where ratings and follow-ups live: ``$HOTLINE_RUN_DIR/ratings.db`` (SQLite, WAL,
``synchronous=FULL``, 0600 from creation).

One lock serialises the connection; callers on the event loop go through
``asyncio.to_thread``. The CLI opens its own store on the same file (WAL lets it read
while the controller writes; each write is one ``BEGIN IMMEDIATE`` transaction).
A follow-up keeps the caller's real number (回访 means calling the caller back) in this
owner-only file; every listing and event shows it masked.
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ivr.core.sqlitedb import SchemaTooNew, open_private_db, write_transaction
from ivr.masking import mask_number
from ivr.ratings.model import (
    EmptyNote,
    FollowUp,
    FollowUpNotFound,
    FollowUpStatus,
    Outcome,
    Rating,
    check_transition,
)
from ivr.ratings.parser import Level

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE ratings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            call_id TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL,
            at_utc TEXT NOT NULL,
            outcome TEXT NOT NULL,
            level INTEGER,
            agent TEXT,
            skill TEXT,
            line TEXT,
            keys TEXT NOT NULL,
            tries INTEGER NOT NULL
        )""",
        "CREATE INDEX ratings_at ON ratings (at_utc)",
        """CREATE TABLE followups (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            call_id TEXT NOT NULL REFERENCES ratings (call_id),
            opened_at TEXT NOT NULL,
            due TEXT NOT NULL,
            grp TEXT NOT NULL,
            agent TEXT,
            skill TEXT,
            line TEXT,
            level INTEGER NOT NULL,
            caller TEXT,
            status TEXT NOT NULL,
            closed_at TEXT,
            closed_by TEXT,
            note TEXT,
            closed_seq INTEGER
        )""",
        "CREATE INDEX followups_status ON followups (status, due)",
        "CREATE TABLE followup_days (day TEXT PRIMARY KEY, last INTEGER NOT NULL)",
        "CREATE TABLE closures (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_RATING = "id, call_id, at, outcome, level, agent, skill, line, keys, tries"
_FOLLOWUP = ("id, call_id, opened_at, due, grp, agent, skill, line, level, caller, status, "
             "closed_at, closed_by, note")


class RatingsStoreError(RuntimeError):
    """The database cannot be used (e.g. written by a newer version)."""


@dataclass(frozen=True)
class NewFollowUp:
    """What the service decides for a bad rating; the store names it."""

    due: date
    group: str
    caller: str | None


@dataclass(frozen=True)
class RatingFilter:
    """``hotline ratings`` filters; None means any."""

    since: datetime | None = None
    until: datetime | None = None
    agent: str | None = None
    skill: str | None = None
    line: str | None = None
    level: int | None = None  # 1..5, or 0 for not rated


def _utc(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return value.astimezone(UTC).isoformat()


def _rating(row: tuple[Any, ...]) -> Rating:
    return Rating(id=row[0], call_id=row[1], at=datetime.fromisoformat(row[2]),
                  outcome=Outcome(row[3]), level=None if row[4] is None else Level(row[4]),
                  agent=row[5], skill=row[6], line=row[7], keys=row[8], tries=row[9])


def _followup(row: tuple[Any, ...]) -> FollowUp:
    return FollowUp(id=row[0], call_id=row[1], opened_at=datetime.fromisoformat(row[2]),
                    due=date.fromisoformat(row[3]), group=row[4], agent=row[5], skill=row[6],
                    line=row[7], level=Level(row[8]),
                    caller_masked=mask_number(row[9]) if row[9] else None,
                    status=FollowUpStatus(row[10]),
                    closed_at=datetime.fromisoformat(row[11]) if row[11] else None,
                    closed_by=row[12], note=row[13])


class RatingStore:
    """Ratings (one per call) and follow-ups in one SQLite file."""

    def __init__(self, path: Path, *, tz: ZoneInfo = LOCAL_TZ) -> None:
        self.path = path
        self._tz = tz
        self._lock = threading.Lock()
        try:  # 0600 from creation (never through a link), WAL, synchronous=FULL, migrated
            self._db = open_private_db(path, MIGRATIONS, busy_timeout_ms=10_000)
        except SchemaTooNew as exc:
            raise RatingsStoreError(str(exc)) from None

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self._lock)

    # --- writes -------------------------------------------------------------------------

    def record(self, rating: Rating, followup: NewFollowUp | None = None
               ) -> tuple[Rating, FollowUp | None] | None:
        """Store ``rating`` and, for a bad one, open ``followup``, in one transaction.
        None when the call already has a rating (one rating per call: a repeated event)."""
        with self._write() as db:
            cursor = db.execute(
                f"INSERT OR IGNORE INTO ratings ({_RATING.replace('id, ', '', 1)}, at_utc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rating.call_id, rating.at.isoformat(), str(rating.outcome),
                 None if rating.level is None else int(rating.level), rating.agent, rating.skill,
                 rating.line, rating.keys, rating.tries, _utc(rating.at)))
            if cursor.rowcount == 0:
                return None
            stored = Rating(**{**rating.__dict__, "id": cursor.lastrowid})
            if followup is None or rating.level is None:
                return stored, None
            day = rating.at.astimezone(self._tz).date()
            key = day.isoformat()
            db.execute("INSERT INTO followup_days (day, last) VALUES (?, 1) "
                       "ON CONFLICT (day) DO UPDATE SET last = last + 1", (key,))
            number: int = db.execute("SELECT last FROM followup_days WHERE day = ?",
                                     (key,)).fetchone()[0]
            followup_id = f"FU{day:%Y%m%d}-{number:03d}"
            db.execute(
                f"INSERT INTO followups ({_FOLLOWUP}) VALUES ({', '.join('?' * 14)})",
                (followup_id, rating.call_id, rating.at.isoformat(), followup.due.isoformat(),
                 followup.group, rating.agent, rating.skill, rating.line, int(rating.level),
                 followup.caller, str(FollowUpStatus.OPEN), None, None, None))
            row = db.execute(f"SELECT {_FOLLOWUP} FROM followups WHERE id = ?",
                             (followup_id,)).fetchone()
            return stored, _followup(row)

    def close_followup(self, followup_id: str, at: datetime, note: str,
                       by: str | None = None) -> FollowUp:
        """Mark a follow-up done with a note; :class:`FollowUpNotFound`,
        :class:`IllegalFollowUpTransition` or :class:`EmptyNote` otherwise."""
        if not note.strip():
            raise EmptyNote("a note saying what was done is required")
        with self._write() as db:
            row = db.execute(f"SELECT {_FOLLOWUP} FROM followups WHERE id = ?",
                             (followup_id,)).fetchone()
            if row is None:
                raise FollowUpNotFound(followup_id)
            check_transition(followup_id, FollowUpStatus(row[10]), FollowUpStatus.DONE)
            seq = db.execute("INSERT INTO closures (id) VALUES (?)", (followup_id,)).lastrowid
            db.execute("UPDATE followups SET status = ?, closed_at = ?, closed_by = ?, note = ?, "
                       "closed_seq = ? WHERE id = ?",
                       (str(FollowUpStatus.DONE), at.isoformat(), by, note.strip(), seq,
                        followup_id))
            row = db.execute(f"SELECT {_FOLLOWUP} FROM followups WHERE id = ?",
                             (followup_id,)).fetchone()
        return _followup(row)

    # --- reads --------------------------------------------------------------------------

    def ratings(self, where: RatingFilter = RatingFilter(), limit: int | None = None
                ) -> builtins.list[Rating]:
        """Ratings matching ``where``, oldest first (``limit``: the newest N)."""
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if where.since is not None:
            clauses.append("at_utc >= ?")
            params.append(_utc(where.since))
        if where.until is not None:
            clauses.append("at_utc < ?")
            params.append(_utc(where.until))
        for column, value in (("agent", where.agent), ("skill", where.skill),
                              ("line", where.line)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.level == 0:
            clauses.append("level IS NULL")
        elif where.level is not None:
            clauses.append("level = ?")
            params.append(where.level)
        sql = f"SELECT {_RATING} FROM ratings"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY at_utc DESC, id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_rating(r) for r in reversed(rows)]

    def rating(self, call_id: str) -> Rating | None:
        """The call's rating, or None."""
        with self._lock:
            row = self._db.execute(f"SELECT {_RATING} FROM ratings WHERE call_id = ?",
                                   (call_id,)).fetchone()
        return None if row is None else _rating(row)

    def followups(self, status: FollowUpStatus | None = FollowUpStatus.OPEN,
                  group: str | None = None) -> builtins.list[FollowUp]:
        """Follow-ups (open ones by default), earliest due first."""
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(str(status))
        if group is not None:
            clauses.append("grp = ?")
            params.append(group)
        sql = f"SELECT {_FOLLOWUP} FROM followups"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY due, seq", params).fetchall()
        return [_followup(r) for r in rows]

    def followup(self, followup_id: str) -> FollowUp | None:
        """One follow-up, or None."""
        with self._lock:
            row = self._db.execute(f"SELECT {_FOLLOWUP} FROM followups WHERE id = ?",
                                   (followup_id,)).fetchone()
        return None if row is None else _followup(row)

    def last_closure(self) -> int:
        """The sequence number of the latest closure (0 when none)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM closures").fetchone()
        return int(row[0] or 0)

    def closures_after(self, seq: int) -> builtins.list[tuple[int, FollowUp]]:
        """Follow-ups closed after closure ``seq`` (by anyone: the CLI writes too), in order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT c.seq, {', '.join('f.' + c.strip() for c in _FOLLOWUP.split(','))} "
                "FROM closures c JOIN followups f ON f.id = c.id WHERE c.seq > ? ORDER BY c.seq",
                (seq,)).fetchall()
        return [(r[0], _followup(r[1:])) for r in rows]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
