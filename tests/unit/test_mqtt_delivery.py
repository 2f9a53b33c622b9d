"""Work-order delivery: addressing, backoff, the delivery state in the store (migration
included) and the hotline's handling of a department's acks and status updates."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ivr.mqtt.delivery import escalation_due, next_attempt, resend_delay, resolve_department
from ivr.mqtt.settings import Delivery, MqttRules
from ivr.workorders import SqliteWorkOrderStore, WorkOrder, WorkOrderStatus
from ivr.workorders.model import TRANSITIONS, IllegalWorkOrderTransition
from ivr.workorders.store import SCHEMA_VERSION, WrongDepartment

T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
RULES = MqttRules.model_validate({
    "departments": {
        "tax": {"name": "税务", "targets": ["subcenter-12366"], "lines": ["12366"],
                "units": ["四川省税务局"], "domains": ["tax"]},
        "customs": {"name": "海关", "targets": ["subcenter-12360"], "domains": ["customs"]},
        "dispatch": {"name": "派单"},
    },
    "delivery": {"resend_initial_s": 5, "resend_max_s": 60, "escalate_after_s": 900},
})


def order(store: SqliteWorkOrderStore, **extra: Any) -> WorkOrder:
    fields: dict[str, Any] = {"call_id": "c1", "created_at": T0, "target": "subcenter-12366",
                              "target_kind": "subcenter", "reason": "no_answer", "summary": "s",
                              "line": "12345", "caller_masked": "138******00"}
    fields.update(extra)
    return store.create(**fields)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    made = SqliteWorkOrderStore(tmp_path / "workorders.db")
    yield made
    made.close()


def test_address_target_first_then_line_then_domain_then_default(store: SqliteWorkOrderStore) -> None:
    from ivr.config.engine import load_engine_config

    config = load_engine_config(Path(__file__).resolve().parents[2])  # sichuan
    assert resolve_department(order(store), RULES, config) == ("tax", "target subcenter-12366")
    by_unit = order(store, target="dept-x", target_kind="department", line="12366")
    assert resolve_department(by_unit, RULES, config) == ("tax", "line 12366 责任单位 四川省税务局")
    assert resolve_department(by_unit, RULES, None) == ("tax", "line 12366")
    by_domain = order(store, target="dept-x", target_kind="department",
                      classification={"domain": "customs"})
    assert resolve_department(by_domain, RULES, config) == ("customs", "domain customs")
    nobody = order(store, target="dept-x", target_kind="department")
    assert resolve_department(nobody, RULES, config) is None
    with_default = RULES.model_copy(update={"default_department": "dispatch"})
    assert resolve_department(nobody, with_default, config) == ("dispatch", "default department")


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = Delivery(resend_initial_s=5, resend_max_s=60)
    assert [resend_delay(n, policy) for n in range(0, 7)] == [0, 5, 10, 20, 40, 60, 60]
    assert resend_delay(10_000, policy) == 60
    assert next_attempt(T0, 2, policy) == T0 + timedelta(seconds=10)


def test_escalation_is_due_once_after_the_configured_time() -> None:
    policy = Delivery(escalate_after_s=900)
    assert not escalation_due(T0, None, T0 + timedelta(seconds=899), policy)
    assert escalation_due(T0, None, T0 + timedelta(seconds=900), policy)
    assert not escalation_due(T0, T0 + timedelta(seconds=900), T0 + timedelta(hours=2), policy)


def test_the_state_machine_for_department_statuses() -> None:
    S = WorkOrderStatus
    assert TRANSITIONS[S.SENT] == {S.ACKNOWLEDGED, S.CLOSED}
    assert TRANSITIONS[S.ACKNOWLEDGED] == {S.ACCEPTED, S.RETURNED, S.CLOSED}
    assert TRANSITIONS[S.ACCEPTED] == {S.RESOLVED, S.RETURNED, S.CLOSED}
    assert TRANSITIONS[S.RESOLVED] == TRANSITIONS[S.RETURNED] == {S.CLOSED}
    assert set(TRANSITIONS) == set(S)


def test_delivery_attempts_acknowledgement_and_resend_schedule(store: SqliteWorkOrderStore) -> None:
    wo = order(store)
    assert [(o.id, d) for o, d in store.due_deliveries(T0)] == [(wo.id, None)]
    sent, delivery = store.record_attempt(wo.id, "tax", T0, T0 + timedelta(seconds=5))
    assert sent.status is WorkOrderStatus.SENT and delivery.attempts == 1
    assert store.due_deliveries(T0 + timedelta(seconds=4)) == []
    assert len(store.due_deliveries(T0 + timedelta(seconds=5))) == 1
    _, again = store.record_attempt(wo.id, "tax", T0 + timedelta(seconds=5), T0 + timedelta(seconds=15))
    assert again.attempts == 2 and again.first_sent_at == T0
    assert [o.id for o in store.unacknowledged()] == [wo.id]

    acked, fresh = store.acknowledge(wo.id, "tax", "王科员", T0 + timedelta(seconds=6))
    assert fresh and acked.status is WorkOrderStatus.ACKNOWLEDGED
    again_acked, fresh_again = store.acknowledge(wo.id, "tax", "王科员", T0 + timedelta(seconds=7))
    assert not fresh_again and again_acked.status is WorkOrderStatus.ACKNOWLEDGED
    assert store.due_deliveries(T0 + timedelta(days=1)) == [] and store.unacknowledged() == []
    history = [(h.status, h.note) for h in store.get(wo.id).history]  # type: ignore[union-attr]
    assert history == [(WorkOrderStatus.OPEN, "created: no_answer"),
                       (WorkOrderStatus.SENT, "sent to tax"),
                       (WorkOrderStatus.ACKNOWLEDGED, "acknowledged by 王科员 (tax)")]
    saved = store.delivery(wo.id)
    assert saved is not None and saved.acked_by == "王科员" and saved.next_attempt_at is None


def test_wrong_department_and_forbidden_transitions_change_nothing(store: SqliteWorkOrderStore) -> None:
    wo = order(store)
    with pytest.raises(WrongDepartment):  # never addressed: nobody may acknowledge it
        store.acknowledge(wo.id, "tax", "x", T0)
    store.record_attempt(wo.id, "tax", T0, T0)
    with pytest.raises(WrongDepartment, match="addressed to tax, not customs"):
        store.acknowledge(wo.id, "customs", "x", T0)
    with pytest.raises(IllegalWorkOrderTransition):  # accepted before the ack
        store.department_update(wo.id, "tax", WorkOrderStatus.ACCEPTED, T0, "accepted by x")
    store.acknowledge(wo.id, "tax", "x", T0)
    with pytest.raises(IllegalWorkOrderTransition, match="acknowledged -> resolved"):
        store.department_update(wo.id, "tax", WorkOrderStatus.RESOLVED, T0, "resolved")
    with pytest.raises(WrongDepartment):
        store.department_update(wo.id, "customs", WorkOrderStatus.ACCEPTED, T0, "forged")
    assert [h.status for h in store.get(wo.id).history] == [  # type: ignore[union-attr]
        WorkOrderStatus.OPEN, WorkOrderStatus.SENT, WorkOrderStatus.ACKNOWLEDGED]


def test_escalation_is_recorded(store: SqliteWorkOrderStore) -> None:
    wo = order(store)
    store.record_attempt(wo.id, "tax", T0, T0)
    store.mark_escalated(wo.id, T0 + timedelta(minutes=15))
    saved = store.delivery(wo.id)
    assert saved is not None and saved.escalated_at == T0 + timedelta(minutes=15)


def test_a_version_1_database_is_migrated_with_its_orders(tmp_path: Path) -> None:
    from ivr.workorders.store import MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = SqliteWorkOrderStore(path)
    try:
        wo = order(store)
        store.record_attempt(wo.id, "tax", T0, T0)
        assert store.delivery(wo.id) is not None
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


class _Config:
    """Just what MqttService reads from the engine configuration."""

    def __init__(self) -> None:
        from ivr.config.engine import load_engine_config

        real = load_engine_config(Path(__file__).resolve().parents[2])
        self.rules = real.rules.model_copy(update={"mqtt": RULES})
        self.region = "sichuan"
        self.catalogue = real.catalogue


def _service(store: SqliteWorkOrderStore) -> Any:
    from ivr.core.events import EventStream
    from ivr.mqtt.service import MqttService

    class Clock:
        def now(self) -> datetime:
            return T0

    config = _Config()
    return MqttService(EventStream().queue("mqtt"), lambda: config, Clock(), None,  # type: ignore[arg-type, return-value]
                       store, lambda: "secret")


def test_the_hotline_applies_acks_and_statuses_and_refuses_the_rest(
        store: SqliteWorkOrderStore, caplog: pytest.LogCaptureFixture) -> None:
    service = _service(store)
    wo = order(store)
    store.record_attempt(wo.id, "tax", T0, T0)

    def send(dept: str, kind: str, body: dict[str, Any]) -> tuple[str, bool, str, str | None]:
        result: tuple[str, bool, str, str | None] = asyncio.run(
            service.handle_inbound(dept, kind, json.dumps(body).encode()))
        return result

    assert send("tax", "ack", {"id": wo.id, "by": "王"}) == (wo.id, True, "acknowledged",
                                                             "acknowledged")
    assert send("tax", "ack", {"id": wo.id, "by": "王"})[1:3] == (True, "already acknowledged")
    refused = send("customs", "status", {"id": wo.id, "status": "accepted", "by": "冒名"})
    assert refused[0] == wo.id and refused[1] is False and "not customs" in refused[2]
    assert send("tax", "status", {"id": "WO-20990101-0001", "status": "accepted", "by": "x"})[:2] \
        == ("", False)
    assert send("tax", "status", {"id": wo.id, "status": "resolved", "by": "x"})[1] is False
    assert send("tax", "status", {"id": wo.id, "status": "accepted", "by": "王"})[3] == "accepted"
    assert send("tax", "status", {"id": wo.id, "status": "returned", "by": "王",
                                  "reason": "不属于本单位职责"})[3] == "returned"
    assert service.counters.rejected == 3 and service.counters.acknowledged == 1
    assert "status from department customs refused" in caplog.text
    notes = [h.note for h in store.get(wo.id).history]  # type: ignore[union-attr]
    assert notes[-1] == "returned by 王 (tax): 不属于本单位职责"
    assert not any("冒名" in n for n in notes)
