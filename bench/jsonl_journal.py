"""The former call journal (JSON lines, whole-file reads), kept only as the baseline of
``bench/callstore_bench.py``.

Each line is one step of one call (decided, prompts played, dialled, answered,
fell back, hung up). Readers group the lines by ``call_id``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.core.callstore import CallRecord


class CallJournal:
    """Appends call steps to ``path``; each append is flushed and fsync'd."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path:
        """The journal file."""
        return self._path

    def append(self, call_id: str, step: str, at: datetime, **data: Any) -> None:
        """Record one step of a call."""
        line = json.dumps({"call_id": call_id, "step": step, "at": at.isoformat(), **data},
                          ensure_ascii=False, sort_keys=True)
        with self._lock, self._path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def records(self) -> Iterator[CallRecord]:
        """Every call in the journal, in order of first appearance."""
        calls: dict[str, CallRecord] = {}
        if not self._path.exists():
            return iter(())
        with self._path.open(encoding="utf-8") as handle:
            for raw in handle:
                try:
                    entry = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a torn last line after a crash
                record = calls.setdefault(entry["call_id"], CallRecord(entry["call_id"]))
                record.steps.append(entry)
        return iter(calls.values())

    def get(self, call_id: str) -> CallRecord | None:
        """One call's record."""
        return next((r for r in self.records() if r.call_id == call_id), None)
