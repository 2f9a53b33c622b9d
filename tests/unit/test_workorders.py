"""Work orders: the model's rules, the SQLite and in-memory stores, and ``hotline workorder``."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ivr.cli.main import main
from ivr.workorders import (
    IllegalWorkOrderTransition,
    InMemoryWorkOrderStore,
    SqliteWorkOrderStore,
    UnmaskedCallerError,
    WorkOrder,
    WorkOrderNotFound,
    WorkOrderStatus,
    WorkOrderStore,
    WorkOrderStoreError,
)
from ivr.workorders.store import SCHEMA_VERSION

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=CST)
OPEN, SENT, ACK, CLOSED = (WorkOrderStatus.OPEN, WorkOrderStatus.SENT, WorkOrderStatus.ACKNOWLEDGED,
                           WorkOrderStatus.CLOSED)


def file(store: WorkOrderStore, call_id: str = "call-1", at: datetime = T0, **extra: Any) -> WorkOrder:
    fields: dict[str, Any] = {
        "call_id": call_id, "created_at": at, "target": "subcenter-12366", "target_kind": "subcenter",
        "reason": "no_answer", "summary": "纳税人咨询个税汇算", "department": "税务12366分中心",
        "line": "12366", "skill": "tax", "caller_masked": "138****8000",
        "classification": {"domain": "tax", "request_type": "consultation", "confidence": 0.8},
        "transcript": "我想问一下个税汇算怎么办", "agent": "1001"}
    fields.update(extra)
    return store.create(**fields)


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorkOrderStore]:
    made: WorkOrderStore = (SqliteWorkOrderStore(tmp_path / "workorders.db") if request.param == "sqlite"
                            else InMemoryWorkOrderStore())
    yield made
    made.close()


def test_create_and_get_round_trip_every_field(store: WorkOrderStore) -> None:
    order = file(store)
    assert order.id == "WO-20261123-0001"
    assert order.status is OPEN
    assert [(e.status, e.note) for e in order.history] == [(OPEN, "created: no_answer")]
    got = store.get(order.id)
    assert got == order
    assert got is not None and got.classification == {"domain": "tax", "request_type": "consultation",
                                                      "confidence": 0.8}
    assert store.get("WO-20261123-9999") is None


def test_list_filters_newest_first_and_limits(store: WorkOrderStore) -> None:
    a = file(store, "call-a")
    b = file(store, "call-b", T0 + timedelta(minutes=1), reason="busy")
    c = file(store, "call-a", T0 + timedelta(minutes=2), reason="failed")
    store.set_status(b.id, SENT, T0 + timedelta(minutes=3))
    assert [o.id for o in store.list()] == [c.id, b.id, a.id]
    assert [o.id for o in store.list(limit=2)] == [c.id, b.id]
    assert [o.id for o in store.list(limit=None)] == [c.id, b.id, a.id]
    assert [o.id for o in store.list(status=OPEN)] == [c.id, a.id]
    assert [o.id for o in store.list(status=SENT)] == [b.id]
    assert [o.id for o in store.list(call_id="call-a")] == [c.id, a.id]
    assert [o.id for o in store.list(status=OPEN, call_id="call-b")] == []
    assert [o.id for o in store.pending_delivery()] == [a.id, c.id]


def test_ids_number_per_local_day(store: WorkOrderStore) -> None:
    ids = [file(store, at=T0 + timedelta(minutes=i)).id for i in range(3)]
    assert ids == ["WO-20261123-0001", "WO-20261123-0002", "WO-20261123-0003"]
    # 2026-11-23 16:30 UTC is already 2026-11-24 00:30 in Shanghai: a new day, a new sequence
    assert file(store, at=datetime(2026, 11, 23, 16, 30, tzinfo=UTC)).id == "WO-20261124-0001"
    # 15:59 UTC is still the 23rd locally
    assert file(store, at=datetime(2026, 11, 23, 15, 59, tzinfo=UTC)).id == "WO-20261123-0004"


def test_transitions_follow_the_table(store: WorkOrderStore) -> None:
    order = file(store)
    sent = store.set_status(order.id, SENT, T0 + timedelta(seconds=5), "published")
    acked = store.set_status(order.id, ACK, T0 + timedelta(seconds=9), "12366 took it")
    closed = store.set_status(order.id, CLOSED, T0 + timedelta(hours=2), "answered the caller")
    assert (sent.status, acked.status, closed.status) == (SENT, ACK, CLOSED)
    assert [(e.status, e.note) for e in closed.history] == [
        (OPEN, "created: no_answer"), (SENT, "published"), (ACK, "12366 took it"),
        (CLOSED, "answered the caller")]
    assert store.get(order.id) == closed
    assert store.pending_delivery() == []

    short = file(store, "call-2")
    assert store.set_status(short.id, CLOSED, T0 + timedelta(minutes=1)).status is CLOSED
    via_sent = file(store, "call-3")
    store.set_status(via_sent.id, SENT, T0)
    assert store.set_status(via_sent.id, CLOSED, T0 + timedelta(minutes=1)).status is CLOSED


@pytest.mark.parametrize(("path", "illegal"), [
    ((), ACK), ((), OPEN), ((SENT,), OPEN), ((SENT,), SENT), ((SENT, ACK), SENT),
    ((SENT, ACK), OPEN), ((CLOSED,), OPEN), ((CLOSED,), SENT), ((SENT, ACK, CLOSED), ACK),
    ((CLOSED,), CLOSED),
])
def test_illegal_transitions_are_refused_and_change_nothing(
        store: WorkOrderStore, path: tuple[WorkOrderStatus, ...], illegal: WorkOrderStatus) -> None:
    order = file(store)
    for status in path:
        order = store.set_status(order.id, status, T0)
    with pytest.raises(IllegalWorkOrderTransition, match=f"{order.status} -> {illegal}"):
        store.set_status(order.id, illegal, T0)
    assert store.get(order.id) == order


def test_unknown_order_and_naive_times_are_refused(store: WorkOrderStore) -> None:
    with pytest.raises(WorkOrderNotFound):
        store.set_status("WO-20261123-0042", SENT, T0)
    with pytest.raises(ValueError, match="timezone"):
        file(store, at=datetime(2026, 11, 23, 9, 30))
    order = file(store)
    with pytest.raises(ValueError, match="timezone"):
        store.set_status(order.id, SENT, datetime(2026, 11, 23, 9, 31))
    assert store.get(order.id) == order


@pytest.mark.parametrize("caller", ["13800138000", "+8613800138000", "tel:0285551234", "1234567"])
def test_an_unmasked_caller_number_is_refused(store: WorkOrderStore, caller: str) -> None:
    with pytest.raises(UnmaskedCallerError):
        file(store, caller_masked=caller)
    assert store.list() == []
    # no id was used up by the refused order
    assert file(store).id == "WO-20261123-0001"


@pytest.mark.parametrize("caller", ["138****8000", "138******78", "****6", "123456", None])
def test_masked_or_missing_callers_are_accepted(store: WorkOrderStore, caller: str | None) -> None:
    assert file(store, caller_masked=caller).caller_masked == caller


def test_bad_kind_reason_or_classification_is_refused(store: WorkOrderStore) -> None:
    with pytest.raises(ValueError, match="target_kind"):
        file(store, target_kind="nowhere")
    with pytest.raises(ValueError, match="reason"):
        file(store, reason="bored")
    with pytest.raises(TypeError):
        file(store, classification={"when": T0})
    assert store.list() == []
    assert file(store).id == "WO-20261123-0001"


def test_the_store_keeps_no_reference_to_the_callers_classification(store: WorkOrderStore) -> None:
    classification: dict[str, Any] = {"domain": "tax"}
    order = file(store, classification=classification)
    classification["domain"] = "customs"
    assert order.classification == {"domain": "tax"}
    assert store.get(order.id) == order


def test_sqlite_orders_and_next_id_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "run" / "workorders.db"
    first = SqliteWorkOrderStore(path)
    a = file(first)
    b = file(first, "call-2", reason="busy", caller_masked=None, classification=None, transcript=None)
    first.set_status(a.id, SENT, T0 + timedelta(seconds=1), "published")
    first.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    second = SqliteWorkOrderStore(path)
    try:
        assert [o.id for o in second.list()] == [b.id, a.id]
        reopened = second.get(a.id)
        assert reopened is not None and reopened.status is SENT
        assert [e.note for e in reopened.history] == ["created: no_answer", "published"]
        assert reopened.created_at == T0 and reopened.created_at.utcoffset() == timedelta(hours=8)
        assert second.get(b.id) == b
        assert file(second, "call-3").id == "WO-20261123-0003"
        assert [o.id for o in second.pending_delivery()] == [b.id, "WO-20261123-0003"]
    finally:
        second.close()


def test_sqlite_is_wal_full_sync_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "workorders.db"
    store = SqliteWorkOrderStore(path)
    store.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.commit()
    finally:
        db.close()
    with pytest.raises(WorkOrderStoreError, match="newer"):
        SqliteWorkOrderStore(path)


def test_sqlite_sets_synchronous_full(tmp_path: Path) -> None:
    store = SqliteWorkOrderStore(tmp_path / "workorders.db")
    try:
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()


def test_two_connections_never_share_an_id(tmp_path: Path) -> None:
    path = tmp_path / "workorders.db"
    one, two = SqliteWorkOrderStore(path), SqliteWorkOrderStore(path)
    try:
        ids = [file(s, f"call-{i}").id for i, s in enumerate([one, two, one, two])]
    finally:
        one.close()
        two.close()
    assert ids == [f"WO-20261123-000{n}" for n in range(1, 5)]


def test_to_json_is_plain_json(store: WorkOrderStore) -> None:
    order = store.set_status(file(store).id, SENT, T0 + timedelta(seconds=1), "published")
    data = json.loads(json.dumps(order.to_json(), ensure_ascii=False))
    assert data["id"] == "WO-20261123-0001"
    assert data["status"] == "sent"
    assert data["created_at"] == "2026-11-23T09:30:00+08:00"
    assert data["classification"]["domain"] == "tax"
    assert data["history"][1] == {"at": "2026-11-23T09:30:01+08:00", "status": "sent", "note": "published"}


# --- hotline workorder ------------------------------------------------------------------------------


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_RUN_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


@pytest.fixture
def filed(run_dir: Path) -> list[WorkOrder]:
    store = SqliteWorkOrderStore(run_dir / "workorders.db")
    try:
        a = file(store, "call-a")
        b = file(store, "call-b", datetime(2026, 11, 23, 2, 0, tzinfo=UTC), reason="busy",
                 target="utility-95598", target_kind="utility", line="95598", skill=None,
                 caller_masked=None, classification=None, transcript=None)
        store.set_status(a.id, SENT, T0 + timedelta(seconds=2), "published")
        return [o for o in (store.get(a.id), store.get(b.id)) if o is not None]
    finally:
        store.close()


def test_cli_list_table(filed: list[WorkOrder], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workorder", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["ID", "CREATED"]
    assert lines[1].split() == ["WO-20261123-0002", "2026-11-23", "10:00:00", "open", "utility-95598",
                                "busy", "95598", "-", "-", "call-b", "-"]
    assert lines[2].split() == ["WO-20261123-0001", "2026-11-23", "09:30:00", "sent", "subcenter-12366",
                                "no_answer", "12366", "tax", "138****8000", "call-a", "-"]


def test_cli_list_filters_and_json(filed: list[WorkOrder], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workorder", "list", "--status", "open", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [o["id"] for o in data] == ["WO-20261123-0002"]
    assert main(["workorder", "list", "--call", "call-a", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == [{**filed[0].to_json(), "delivery": None}]
    assert main(["workorder", "list", "--limit", "1", "--json"]) == 0
    assert [o["id"] for o in json.loads(capsys.readouterr().out)] == ["WO-20261123-0002"]
    assert main(["workorder", "list", "--status", "closed"]) == 0
    assert "no matching work orders" in capsys.readouterr().out


def test_cli_show(filed: list[WorkOrder], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workorder", "show", "WO-20261123-0001"]) == 0
    out = capsys.readouterr().out
    for text in ("WO-20261123-0001", "subcenter-12366 (subcenter)", "税务12366分中心", "138****8000",
                 "纳税人咨询个税汇算", '"request_type": "consultation"', "我想问一下个税汇算怎么办",
                 "2026-11-23 09:30:02  sent", "published", "call-a", "1001"):
        assert text in out
    assert main(["workorder", "show", "WO-20261123-0001", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {**filed[0].to_json(), "delivery": None}


def test_cli_show_unknown_id_exits_1(filed: list[WorkOrder], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workorder", "show", "WO-20261123-0099"]) == 1
    assert "no work order WO-20261123-0099" in capsys.readouterr().err


def test_cli_without_a_database(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workorder", "list"]) == 0
    assert capsys.readouterr().out.strip() == f"no work orders yet ({run_dir / 'workorders.db'})"
    assert main(["workorder", "list", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert "no work orders yet" in captured.err
    assert main(["workorder", "show", "WO-20261123-0001"]) == 1
    assert not (run_dir / "workorders.db").exists()


def test_cli_db_option(tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "elsewhere.db"
    store = SqliteWorkOrderStore(other)
    order = file(store)
    store.close()
    assert main(["workorder", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["workorder", "list", "--db", str(other), "--json"]) == 0
    assert [o["id"] for o in json.loads(capsys.readouterr().out)] == [order.id]
    assert main(["workorder", "show", order.id, "--db", str(other)]) == 0
