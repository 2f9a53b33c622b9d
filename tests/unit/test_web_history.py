"""The caller's past on the agent desk: calls linked by a keyed hash in the call store
(never the number), the in-place schema migration, the board's lookups and the work
orders still open."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ivr.core.callstore import CallStore, CallStoreReader
from ivr.core.callstore.callerkey import secret_path
from ivr.core.callstore.schema import connect_writer
from ivr.core.events import call_event
from ivr.web.board import LiveBoard
from ivr.web.history import call_row, lookup
from ivr.web.users import User
from ivr.workorders.model import WorkOrderStatus
from ivr.workorders.queries import awaiting_ack_by_department, open_for_calls
from ivr.workorders.store import InMemoryWorkOrderStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CALLER = "13800138000"


def _call(store: CallStore, call_id: str, at: datetime, caller: str | None,
          answered: bool = True) -> None:
    if caller:
        store.link_caller(call_id, caller)
    steps = [("decided", 0, {"number": "12345", "line_name": "12345 热线", "caller":
                             "138******00" if caller else None, "mode": "main", "phase": "active"}),
             ("queued", 1, {"queue": "hl-general"})]
    if answered:
        steps.append(("answered", 5, {"agent": "1001", "hold_s": 4}))
    steps.append(("hangup", 60, {"cause": "16"}))
    for step, offset, data in steps:
        store.record(call_event(step, call_id, at + timedelta(seconds=offset), data))


async def test_calls_of_one_caller_are_linked_by_a_keyed_hash_not_the_number(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    async with CallStore(db) as store:
        _call(store, "c1", T0, CALLER, answered=True)
        _call(store, "c2", T0 + timedelta(hours=1), "13900139000")
        _call(store, "c3", T0 + timedelta(hours=2), CALLER, answered=False)
        _call(store, "c4", T0 + timedelta(hours=3), CALLER)
        _call(store, "c5", T0 + timedelta(hours=4), None)
        await store.flush()
        earlier = await store.same_caller("c4", 10)
        assert [r.call_id for r in earlier] == ["c3", "c1"]  # newest first, not c4 itself
        assert [call_row(r)["outcome"] for r in earlier] == ["abandoned", "answered"]
        assert [r.call_id for r in await store.same_caller("c3", 10)] == ["c1"]  # earlier only
        assert await store.same_caller("c5", 10) == []  # no caller id: nothing linked
    # the reader (another process) sees the same links
    assert [r.call_id for r in CallStoreReader(db).same_caller("c4", 1)] == ["c3"]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("calls.db*"))
    assert CALLER.encode() not in raw and b"13900139000" not in raw
    key = secret_path(db)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32


async def test_the_secret_is_kept_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    async with CallStore(db) as store:
        _call(store, "a", T0, CALLER)
    async with CallStore(db) as store:
        _call(store, "b", T0 + timedelta(days=1), CALLER)
        await store.flush()
        assert [r.call_id for r in await store.same_caller("b", 5)] == ["a"]


async def test_an_older_store_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    old = sqlite3.connect(db)
    old.executescript("""
        CREATE TABLE calls (call_id TEXT PRIMARY KEY, first_at REAL NOT NULL, last_at REAL NOT NULL,
            number TEXT, caller_masked TEXT, region TEXT, steps INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE steps (id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, step TEXT NOT NULL,
            at TEXT NOT NULL, data TEXT NOT NULL);
        INSERT INTO calls VALUES ('old', 1.0, 2.0, '12345', '138******00', 'r', 1);
        INSERT INTO steps(call_id, step, at, data)
            VALUES ('old', 'decided', '2026-01-01T00:00:00+00:00', '{}');
    """)
    old.close()
    assert CallStoreReader(db).same_caller("old") == []  # not migrated yet: no error, nothing
    connect_writer(db).close()
    columns = {row[1] for row in sqlite3.connect(db).execute("PRAGMA table_info(calls)")}
    assert "caller_key" in columns
    async with CallStore(db) as store:
        assert (await store.get("old")) is not None  # earlier calls kept, just unlinked
        _call(store, "new", T0, CALLER)
        await store.flush()
        assert await store.same_caller("new", 5) == []


def _board() -> LiveBoard:
    users = {"1001": User("1001", "王芳", "agent", "PJSIP/agent1001")}
    return LiveBoard(lambda: T0, lambda: users)


def test_the_board_asks_once_per_offered_call_and_shows_what_was_found() -> None:
    board = _board()
    board.handle(call_event("decided", "c9", T0, {"number": "12345", "caller": "138******00"}))
    board.handle(call_event("ringing", "c9", T0, {"dest": "PJSIP/agent1001-0001"}))
    assert board.desk("1001")["call"]["history"] is None  # still looking
    assert board.take_lookups() == ["c9"] and board.take_lookups() == []
    before = board.version
    board.set_history("c9", [{"call_id": "c1", "outcome": "answered"}], [])
    pop = board.desk("1001")["call"]
    assert pop["history"] == [{"call_id": "c1", "outcome": "answered"}] and pop["orders"] == []
    assert board.version > before
    board.handle(call_event("answered", "c9", T0, {"agent": "1001"}))
    assert board.take_lookups() == []


async def test_lookup_lists_earlier_calls_and_open_orders_of_the_caller(tmp_path: Path) -> None:
    orders = InMemoryWorkOrderStore()
    done = orders.create(call_id="c1", created_at=T0, target="12366", target_kind="subcenter",
                         reason="no_answer", summary="发票 13800138000", department="tax")
    orders.set_status(done.id, WorkOrderStatus.CLOSED, T0)
    kept = orders.create(call_id="c3", created_at=T0 + timedelta(hours=2), target="12366",
                         target_kind="subcenter", reason="no_answer", summary="退税 13800138000",
                         department="tax")
    orders.create(call_id="c2", created_at=T0, target="12366", target_kind="subcenter",
                  reason="busy", summary="someone else", department=None)

    async def open_orders(ids: list[str]) -> list[object]:
        return open_for_calls(orders, ids)  # type: ignore[return-value]

    async with CallStore(tmp_path / "calls.db") as store:
        _call(store, "c1", T0, CALLER)
        _call(store, "c2", T0, "13900139000")
        _call(store, "c3", T0 + timedelta(hours=2), CALLER, answered=False)
        _call(store, "c4", T0 + timedelta(hours=3), CALLER)
        await store.flush()
        calls, found = await lookup("c4", store.same_caller, open_orders)  # type: ignore[arg-type]
    assert [c["call_id"] for c in calls] == ["c3", "c1"]
    assert [o["id"] for o in found] == [kept.id]
    assert CALLER not in found[0]["summary"] and found[0]["department"] == "tax"
    assert awaiting_ack_by_department(orders) == {"tax": 1, "none": 1}


async def test_a_link_after_the_decided_step_still_reaches_its_row(tmp_path: Path) -> None:
    async with CallStore(tmp_path / "calls.db") as store:
        _call(store, "early", T0, CALLER)
        store.record(call_event("decided", "late", T0 + timedelta(hours=1), {"number": "12345"}))
        store.link_caller("late", CALLER)  # routing linked it after recording the step
        await store.flush()
        assert [r.call_id for r in await store.same_caller("late", 5)] == ["early"]
