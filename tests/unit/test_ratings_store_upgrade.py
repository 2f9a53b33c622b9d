"""A ratings database written by the previous version (its own migration code, already at
``user_version`` 1) opens through :func:`ivr.core.sqlitedb.open_private_db`, rows kept."""

from __future__ import annotations

import sqlite3
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.masking import mask_number
from ivr.ratings.model import FollowUpStatus, Outcome
from ivr.ratings.parser import Level
from ivr.ratings.store import SCHEMA_VERSION, RatingsStoreError, RatingStore

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2024, 9, 27, 10, 0, tzinfo=TZ)

# The previous version's migration 1, copied verbatim.
OLD_SCHEMA = (
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
)


def _old_database(path: Path) -> None:
    path.touch(mode=0o600)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in OLD_SCHEMA:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO ratings (call_id, at, at_utc, outcome, level, agent, skill, line, "
               "keys, tries) VALUES ('old-1', ?, ?, 'rated', 5, '1001', 'tax', '12345', '5', 1)",
               (AT.isoformat(), AT.astimezone(ZoneInfo("UTC")).isoformat()))
    db.execute("INSERT INTO followup_days (day, last) VALUES ('2024-09-27', 1)")
    db.execute("INSERT INTO followups (id, call_id, opened_at, due, grp, agent, skill, line, "
               "level, caller, status) VALUES ('FU20240927-001', 'old-1', ?, '2024-09-30', "
               "'tax-leads', '1001', 'tax', '12345', 5, '13800138000', 'open')",
               (AT.isoformat(),))
    db.close()


def test_the_previous_ratings_database_opens_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ratings.db"
    _old_database(path)
    store = RatingStore(path, tz=TZ)
    [rating] = store.ratings()
    assert (rating.call_id, rating.outcome, rating.level) == \
        ("old-1", Outcome.RATED, Level.VERY_DISSATISFIED)
    [followup] = store.followups()
    assert (followup.id, followup.status, followup.caller_masked) == \
        ("FU20240927-001", FollowUpStatus.OPEN, mask_number("13800138000"))
    closed = store.close_followup("FU20240927-001", AT.replace(hour=11), "called back")
    assert closed.status is FollowUpStatus.DONE
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_ratings_database_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ratings.db"
    RatingStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RatingsStoreError, match="newer than this program's"):
        RatingStore(path)
