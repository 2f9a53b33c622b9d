"""Importing the JSON-lines journal of earlier versions, once.

The whole file goes in one transaction that also records which file was imported;
the file is then renamed ``calls.jsonl.imported``.  A crash between the commit and
the rename only leaves the rename to do on the next start, never a second import.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from ivr.core.callstore.schema import Row, insert_rows, step_row

log = logging.getLogger(__name__)

_BATCH = 5000
_MARKER = "legacy_import"


def _parse(raw: bytes) -> Row | None:
    try:
        line = json.loads(raw.decode("utf-8"))
        if not isinstance(line, dict):
            return None
        call_id, step, at = line.get("call_id"), line.get("step"), line.get("at")
        if not (isinstance(call_id, str) and isinstance(step, str) and isinstance(at, str)):
            return None
        return step_row(call_id, step, at, line)
    except ValueError:  # UnicodeDecodeError, JSONDecodeError, a bad timestamp
        return None


def imported_name(path: Path) -> Path:
    """Where an imported journal is moved: ``calls.jsonl.imported``."""
    return path.with_name(path.name + ".imported")


def import_journal(conn: sqlite3.Connection, path: Path) -> int:
    """Import ``path`` if it exists and was not imported yet; the number of steps imported.

    Unreadable lines (torn by a crash, not UTF-8, not a step) are skipped: one warning
    names the file, the first such line and how many there were.
    """
    if not path.exists():
        return 0
    stat = path.stat()
    marker = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    done = conn.execute("SELECT value FROM meta WHERE key = ?", (_MARKER,)).fetchone()
    imported = skipped = 0
    first_bad: int | None = None
    if done is None or done[0] != marker:
        conn.execute("BEGIN")
        try:
            rows: list[Row] = []
            with path.open("rb") as handle:
                for number, raw in enumerate(handle, 1):
                    if not raw.strip():
                        continue
                    row = _parse(raw)
                    if row is None:
                        skipped += 1
                        first_bad = first_bad or number
                        continue
                    rows.append(row)
                    if len(rows) >= _BATCH:
                        insert_rows(conn, rows)
                        imported += len(rows)
                        rows.clear()
            insert_rows(conn, rows)
            imported += len(rows)
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_MARKER, marker))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if skipped:
            log.warning("%s: skipped %d unreadable line(s) (torn or not UTF-8), the first at line %d",
                        path, skipped, first_bad)
        log.info("imported %d call steps from %s", imported, path)
    try:
        path.rename(imported_name(path))
    except OSError:
        log.exception("imported %s but could not rename it; will rename on the next start", path)
    return imported
