"""The callback store: 0600, the old table migrated in place, transitions that cannot race."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.callbacks.model import CallbackState, IllegalCallbackTransition, Outcome, Reason
from ivr.callbacks.store import CallbackStore

AT = datetime(2025, 3, 3, 4, 0, tzinfo=UTC)
OLD_SCHEMA = """
CREATE TABLE callbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL UNIQUE, caller TEXT NOT NULL,
    skill TEXT NOT NULL, requested_at TEXT NOT NULL, done_at TEXT)
"""


def test_the_file_is_private(tmp_path: Path) -> None:
    store = CallbackStore(tmp_path / "run" / "callbacks.db")
    store.add("c1", "13800138000", "general", AT, Reason.ABANDONED)
    store.close()
    assert stat.S_IMODE((tmp_path / "run" / "callbacks.db").stat().st_mode) == 0o600


def test_rows_of_the_earlier_version_keep_working(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.db"
    path.touch(mode=0o600)
    db = sqlite3.connect(path)
    db.execute(OLD_SCHEMA)
    db.execute("INSERT INTO callbacks (call_id, caller, skill, requested_at) VALUES "
               "('old-1', '13800000001', 'tax', ?)", (AT.isoformat(),))
    db.execute("INSERT INTO callbacks (call_id, caller, skill, requested_at, done_at) VALUES "
               "('old-2', '13800000002', 'tax', ?, ?)", (AT.isoformat(), AT.isoformat()))
    db.commit()
    db.close()
    store = CallbackStore(path)
    [pending] = store.open_entries()
    assert (pending.call_id, pending.state, pending.reason) == \
        ("old-1", CallbackState.PENDING, Reason.NO_AGENTS)
    assert store.get(2).state is CallbackState.CONNECTED
    store.close()
    CallbackStore(path).close()  # migrating twice is harmless


def test_one_open_entry_per_number_and_per_call(tmp_path: Path) -> None:
    store = CallbackStore(tmp_path / "callbacks.db")
    first = store.add("c1", "13800138000", "general", AT, Reason.ABANDONED)
    assert first is not None
    assert store.add("c1", "13900000000", "general", AT, Reason.ABANDONED) is None
    assert store.add("c2", "13800138000", "tax", AT, Reason.NO_AGENTS) is None
    assert [e.id for e in store.open_entries()] == [first.id]


def test_an_attempt_is_durable_before_dialling_and_counted_after(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.db"
    store = CallbackStore(path)
    entry = store.add("c1", "13800138000", "general", AT, Reason.ABANDONED)
    assert entry is not None
    store.mark_dialling(entry, "2001", "cb-1-1", AT)
    other = CallbackStore(path)  # another process (a restarted controller) sees it
    assert other.get(entry.id).state is CallbackState.DIALLING
    assert other.get(entry.id).dial_key == "cb-1-1"
    after = store.finish_attempt(entry.id, Outcome.AGENT_NO_ANSWER, AT, 3)
    assert (after.state, after.attempts, after.last_attempt_at) == (CallbackState.PENDING, 0, None)
    store.mark_dialling(after, "2002", "cb-1-2", AT)
    later = AT + timedelta(seconds=40)
    after = store.finish_attempt(entry.id, Outcome.NO_ANSWER, later, 3)
    assert (after.state, after.attempts, after.last_attempt_at) == \
        (CallbackState.PENDING, 1, later)
    store.mark_dialling(after, "2002", "cb-1-3", AT)
    done = store.finish_attempt(entry.id, Outcome.CONNECTED, later, 3)
    assert done.state is CallbackState.CONNECTED
    assert store.connected_at(AT) == {"13800138000": later}
    with pytest.raises(IllegalCallbackTransition):
        store.close_entry(entry.id, CallbackState.CANCELLED, later)


def test_cancel_loses_to_a_dial_started_by_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.db"
    controller, cli = CallbackStore(path), CallbackStore(path)
    entry = controller.add("c1", "13800138000", "general", AT, Reason.ABANDONED)
    assert entry is not None
    stale = cli.get(entry.id)
    controller.mark_dialling(entry, "2001", "cb-1-1", AT)
    with pytest.raises(IllegalCallbackTransition, match="is dialling"):
        cli.close_entry(stale.id, CallbackState.CANCELLED, AT)


def test_held_reasons_and_listing(tmp_path: Path) -> None:
    store = CallbackStore(tmp_path / "callbacks.db")
    a = store.add("c1", "13800138000", "general", AT, Reason.ABANDONED)
    b = store.add("c2", "13800138001", "general", AT, Reason.ABANDONED)
    assert a is not None and b is not None
    store.set_held({a.id: "quiet hours until 08:00"})
    store.close_entry(b.id, CallbackState.CANCELLED, AT)
    assert [e.held for e in store.listing()] == ["quiet hours until 08:00"]
    assert [e.state for e in store.listing(everything=True)] == \
        [CallbackState.CANCELLED, CallbackState.PENDING]
    assert store.pending_for_number("13800138000", "c9")[0].id == a.id
    assert store.pending_for_number("13800138000", "c1") == []
