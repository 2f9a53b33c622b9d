"""Private SQLite databases: the one way the engine's stores open their files.

Every store that holds call data (the call store, work orders, recordings and the audit,
callbacks, ratings) opens its file the same way: the directory 0700, the file created 0600 before
SQLite opens it (never through a planted link; SQLite gives ``-wal`` and ``-shm`` the main
file's mode), WAL, ``synchronous=FULL`` (a committed row survives a power cut), a busy
timeout for the CLI reading next to the controller, foreign keys on, and the schema
brought up to date by numbered migrations in one transaction.

``migrations[n]`` takes a database from ``PRAGMA user_version`` n to n + 1: a sequence of
SQL statements or callables on the connection. A database written by a newer program
(``user_version`` above ``len(migrations)``) is refused with :class:`SchemaTooNew`.
Stores that existed before this module left their databases at ``user_version`` 0 with
the tables in place, so their step 0 is idempotent (``IF NOT EXISTS``, column checks).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ivr.core.rundir import create_private

Migration = str | Callable[[sqlite3.Connection], None]


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the program."""


def open_private_db(path: Path, migrations: Sequence[Sequence[Migration]] = (), *,
                    synchronous: str = "FULL", busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """Open (creating it 0600) the database at ``path``, migrated; autocommit mode
    (``isolation_level=None``), usable from any thread (callers serialise their use)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    create_private(path)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn, migrations, str(path))
    except BaseException:  # an error or a cancellation: no open handle left behind
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[Migration]],
            name: str = "database") -> int:
    """Apply the migrations past the database's ``user_version`` in one transaction; the
    version it is at now."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        target = len(migrations)
        if version > target:
            raise SchemaTooNew(f"{name}: schema version {version} is newer than this "
                               f"program's {target}")
        for steps in migrations[version:]:
            for step in steps:
                if isinstance(step, str):
                    conn.execute(step)
                else:
                    step(conn)
        if version != target:
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return target


@contextmanager
def write_transaction(conn: sqlite3.Connection, lock: threading.Lock) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` … ``COMMIT`` under ``lock`` (the store's connection is shared by
    threads); rolled back on an error or a cancellation inside it."""
    with lock:
        conn.execute("BEGIN IMMEDIATE")
        committed = False
        try:
            yield conn
            conn.execute("COMMIT")
            committed = True
        finally:
            if not committed:
                conn.execute("ROLLBACK")
