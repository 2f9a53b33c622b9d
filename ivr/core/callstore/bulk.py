"""Filling a call store fast, through its own schema: benchmarks and one-off migrations.

Never while a :class:`~ivr.core.callstore.CallStore` has the file open: it writes with
``synchronous=OFF`` in large transactions (a crash mid-load can lose the load).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ivr.core.callstore.schema import Row, connect_writer, insert_rows


def bulk_load(path: Path, rows: Iterable[Row], *, chunk: int = 20_000,
              per_transaction: int = 1_000_000,
              progress: Callable[[int], None] | None = None) -> int:
    """Insert ``rows`` (see :func:`~ivr.core.callstore.schema.step_row`); the number inserted."""
    conn = connect_writer(path, synchronous="OFF")
    done = since_commit = 0
    batch: list[Row] = []
    try:
        conn.execute("BEGIN")
        for row in rows:
            batch.append(row)
            if len(batch) < chunk:
                continue
            insert_rows(conn, batch)
            done += len(batch)
            since_commit += len(batch)
            batch.clear()
            if since_commit >= per_transaction:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                since_commit = 0
            if progress is not None:
                progress(done)
        insert_rows(conn, batch)
        done += len(batch)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    if progress is not None:
        progress(done)
    return done
