"""The one way stores open their SQLite files: 0600, WAL, numbered migrations."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from ivr.core.rundir import RunDirError
from ivr.core.sqlitedb import SchemaTooNew, open_private_db

V1 = ("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",)


def test_a_new_database_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "store" / "data.db"
    conn = open_private_db(path, (V1,))
    conn.execute("INSERT INTO t (name) VALUES ('x')")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    for suffix in ("-wal", "-shm"):
        assert stat.S_IMODE(Path(f"{path}{suffix}").stat().st_mode) == 0o600
    conn.close()


def test_migrations_run_once_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    open_private_db(path, (V1,)).close()
    added: list[int] = []

    def backfill(conn: sqlite3.Connection) -> None:
        added.append(1)
        conn.execute("UPDATE t SET extra = 'filled'")

    v2 = ("ALTER TABLE t ADD COLUMN extra TEXT", backfill)
    conn = open_private_db(path, (V1, v2))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    open_private_db(path, (V1, v2)).close()
    assert added == [1]


def test_a_failed_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    open_private_db(path, (V1,)).close()
    with pytest.raises(sqlite3.OperationalError):
        open_private_db(path, (V1, ("ALTER TABLE t ADD COLUMN ok TEXT", "NOT SQL")))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "ok" not in {row[1] for row in conn.execute("PRAGMA table_info(t)")}
    conn.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    open_private_db(path, (V1, ("SELECT 1",))).close()
    with pytest.raises(SchemaTooNew, match="newer"):
        open_private_db(path, (V1,))


def test_a_planted_link_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.db"
    target.write_bytes(b"")
    os.symlink(target, tmp_path / "data.db")
    with pytest.raises(RunDirError):
        open_private_db(tmp_path / "data.db", (V1,))


def test_a_write_transaction_commits_or_rolls_back_as_a_whole(tmp_path: Path) -> None:
    import threading

    from ivr.core.sqlitedb import write_transaction

    conn = open_private_db(tmp_path / "data.db", (V1,))
    lock = threading.Lock()
    with write_transaction(conn, lock) as db:
        db.execute("INSERT INTO t (name) VALUES ('kept')")
    with pytest.raises(RuntimeError), write_transaction(conn, lock) as db:
        db.execute("INSERT INTO t (name) VALUES ('dropped')")
        raise RuntimeError("half way")
    assert [r[0] for r in conn.execute("SELECT name FROM t")] == ["kept"]
    assert not lock.locked()
    conn.close()
