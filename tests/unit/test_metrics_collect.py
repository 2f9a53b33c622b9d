"""The hotline_* metrics from events, the ACD snapshot at scrape time, the /metrics server
and the feature's registration (ivr/metrics)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ivr.config.validate import StrictModel
from ivr.core.events import (
    AgentStateChanged,
    EventStream,
    TaskRestarted,
    WorkOrderCreated,
    call_event,
)
from ivr.metrics.collect import HotlineMetrics
from ivr.metrics.http import MetricsServer
from ivr.metrics.settings import DEFAULT_PORT, MetricsRules

T0 = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t


def samples(metrics: HotlineMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: HotlineMetrics, name: str, **labels: str) -> float:
    return samples(metrics).get((name, tuple(sorted(labels.items()))), 0.0)


def step(metrics: HotlineMetrics, call_id: str, name: str, **data: Any) -> None:
    metrics.handle(call_event(name, call_id, T0, data))


def test_calls_by_mode_phase_and_outcome() -> None:
    m = HotlineMetrics(Clock().now)
    step(m, "a", "decided", mode="whole_merge", phase="transition", caller="138******00")
    step(m, "a", "queued", queue="hl-general")
    step(m, "a", "ringing", dest="PJSIP/agent-1001-00000001")
    step(m, "a", "dial_result", status="ANSWER")  # the queue's dial to the agent, first
    step(m, "a", "answered", queue="hl-general", hold_s=4)
    step(m, "a", "hangup")
    step(m, "b", "decided", mode="main", phase="active")
    step(m, "b", "queued", queue="hl-tax")
    step(m, "b", "hangup")  # hung up while queued: abandoned
    step(m, "c", "decided", mode="sub_center", phase="active")
    step(m, "c", "dial_result", status="ANSWER")
    step(m, "c", "hangup")
    step(m, "d", "decided", mode="main", phase="active")
    step(m, "d", "fallback")
    step(m, "d", "hangup")
    step(m, "e", "decided", mode="main", phase="active")
    step(m, "e", "queued", queue="hl-general")
    step(m, "e", "queue_result", status="JOINEMPTY")
    step(m, "e", "callback_requested")
    step(m, "e", "hangup")
    step(m, "f", "decided", mode="main", phase="active")  # answered, transferred, requeued, left
    step(m, "f", "queued", queue="hl-general")
    step(m, "f", "answered", queue="hl-general", hold_s=20)
    step(m, "f", "transfer_failed", outcome="no_answer", workorder="WO-1")
    step(m, "f", "queued", queue="hl-general")
    step(m, "f", "hangup")
    calls = "hotline_calls_total"
    assert value(m, calls, mode="whole_merge", phase="transition", outcome="answered") == 1
    assert value(m, calls, mode="main", phase="active", outcome="abandoned") == 1
    assert value(m, calls, mode="sub_center", phase="active", outcome="connected") == 1
    assert value(m, calls, mode="main", phase="active", outcome="fallback") == 1
    assert value(m, calls, mode="main", phase="active", outcome="callback") == 1
    assert value(m, calls, mode="main", phase="active", outcome="answered") == 1
    assert value(m, "hotline_calls_decided_total", mode="main", phase="active") == 4
    assert value(m, "hotline_queue_entered_total", skill="general") == 4
    assert value(m, "hotline_queue_answered_total", skill="general", within_target="true") == 1
    assert value(m, "hotline_queue_answered_total", skill="general", within_target="false") == 1
    assert value(m, "hotline_queue_abandoned_total", skill="tax") == 1
    assert value(m, "hotline_queue_abandoned_total", skill="general") == 0  # f was answered
    assert value(m, "hotline_fastagi_fallbacks_total") == 1
    assert value(m, "hotline_callbacks_requested_total") == 1
    assert value(m, "hotline_transfers_total", outcome="no_answer") == 1
    assert value(m, "hotline_queue_wait_seconds_count", skill="general") == 2
    # no caller data anywhere in the exposition
    assert "******" not in generate_latest(m.registry).decode()


def test_other_events_and_bounded_labels() -> None:
    m = HotlineMetrics(Clock().now)
    m.handle(WorkOrderCreated(at=T0, order_id="WO-1", call_id="x", target="t", reason="busy"))
    m.handle(AgentStateChanged(at=T0, agent_id="1001", state="paused", previous="available"))
    m.handle(TaskRestarted(at=T0, task="mqtt-publisher", error="boom", restarts=1))
    step(m, "g", "classified", outcome="classified", budget_used_ms=4200)
    step(m, "h", "decided", mode="main; drop table", phase="x" * 80)
    assert value(m, "hotline_workorders_created_total", reason="busy") == 1
    assert value(m, "hotline_agent_state_changes_total", state="paused") == 1
    assert value(m, "hotline_task_restarts_total", task="mqtt-publisher") == 1
    assert value(m, "hotline_listening_outcomes_total", outcome="classified") == 1
    assert value(m, "hotline_listening_budget_used_seconds_sum") == pytest.approx(4.2)
    assert value(m, "hotline_calls_decided_total", mode="other", phase="other") == 1


def test_decision_latency_from_the_decided_event() -> None:
    clock = Clock()
    m = HotlineMetrics(clock.now)
    stream = EventStream()
    from ivr.core.events import CallDecided

    stream.subscribe("latency", m.on_decided, (CallDecided,))
    clock.t = T0 + timedelta(milliseconds=7)
    stream.publish(call_event("decided", "a", T0, {"mode": "main"}))
    assert value(m, "hotline_decision_latency_seconds_count") == 1
    assert value(m, "hotline_decision_latency_seconds_bucket", le="0.01") == 1
    assert value(m, "hotline_decision_latency_seconds_bucket", le="0.005") == 0


def test_queues_and_agents_from_a_fresh_acd_snapshot(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "acd.json"
    m = HotlineMetrics(clock.now, path)
    assert value(m, "hotline_acd_snapshot_up") == 0  # no snapshot yet
    path.write_text(json.dumps({
        "at": T0.isoformat(), "queues": [
            {"queue": "hl-general", "waiting": 2, "longest_wait_s": 12.5, "service_level": 0.8},
            {"queue": "hl-tax", "waiting": 0, "longest_wait_s": 0, "service_level": None}],
        "agent_list": [{"agent": "1001", "state": "available", "queues": ["hl-general", "hl-tax"]},
                       {"agent": "1002", "state": "paused", "queues": ["hl-general"]}]}))
    assert value(m, "hotline_acd_snapshot_up") == 1
    assert value(m, "hotline_queue_waiting_calls", skill="general") == 2
    assert value(m, "hotline_queue_longest_wait_seconds", skill="general") == 12.5
    assert value(m, "hotline_queue_service_level_ratio", skill="general") == 0.8
    assert ("hotline_queue_service_level_ratio", (("skill", "tax"),)) not in samples(m)
    assert value(m, "hotline_agents", skill="general", state="available") == 1
    assert value(m, "hotline_agents", skill="general", state="paused") == 1
    assert value(m, "hotline_agents", skill="tax", state="available") == 1
    clock.t = T0 + timedelta(seconds=30)  # a stale snapshot is not exported
    assert value(m, "hotline_acd_snapshot_up") == 0
    assert value(m, "hotline_queue_waiting_calls", skill="general") == 0


async def test_the_server_answers_get_metrics_only() -> None:
    m = HotlineMetrics(Clock().now)
    step(m, "a", "decided", mode="main", phase="active")
    server = MetricsServer(m.registry, "127.0.0.1", 0)
    listening = await asyncio.start_server(server._handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]

    async def get(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        data = await reader.read()
        writer.close()
        return data

    async with listening:
        ok = await get(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 OK") and b"hotline_calls_decided_total" in ok
        assert (await get(b"GET / HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
        assert (await get(b"POST /metrics HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 405")
        assert (await get(b"nonsense\r\n\r\n")).startswith(b"HTTP/1.1 400")


def test_settings_are_strict_and_on_by_default_on_loopback() -> None:
    rules = MetricsRules()
    assert rules.enabled and rules.host == "127.0.0.1" and rules.port == DEFAULT_PORT
    assert isinstance(rules, StrictModel)
    with pytest.raises(ValueError):
        MetricsRules.model_validate({"host": "localhost; rm"})
    with pytest.raises(ValueError):
        MetricsRules.model_validate({"prot": 9100})


def test_port_clear_of_the_sandbox_and_the_shipped_config() -> None:
    from hotline_sandbox.settings import SandboxSettings
    from ivr.config.engine import load_engine_config

    sandbox = SandboxSettings()
    config = load_engine_config(Path(__file__).resolve().parents[2])
    taken = {sandbox.ami_port, sandbox.sip_port, 4573, config.rules.mqtt.port,
             config.rules.listening.audiosocket.port, *sandbox.peer_ports().values()}
    assert config.rules.metrics.port not in taken
    assert not sandbox.rtp_start <= config.rules.metrics.port <= sandbox.rtp_end
    assert config.rules.metrics.enabled and config.rules.metrics.host == "127.0.0.1"


def test_the_controller_registers_metrics_with_restart_settings() -> None:
    from ivr.controller.app import FEATURES
    from ivr.metrics.feature import RESTART_SETTINGS, register

    assert register in FEATURES
    assert ("metrics", "port") in RESTART_SETTINGS


async def test_a_taken_port_is_retried_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    from ivr.metrics import http

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(HotlineMetrics(Clock().now).registry, "127.0.0.1", port)
        original = http.BIND_RETRY_S
        http.BIND_RETRY_S = 0.01
        try:
            task = asyncio.create_task(server.serve())
            await asyncio.sleep(0.1)
            assert not task.done()  # still retrying, never failed
            task.cancel()
        finally:
            http.BIND_RETRY_S = original
    assert sum("cannot listen" in r.getMessage() for r in caplog.records
               if r.levelname == "WARNING") == 1


def test_mqtt_backlog_where_mqtt_runs() -> None:
    from ivr.metrics.collect import QueueBacklogCollector

    m = HotlineMetrics(Clock().now)
    m.registry.register(QueueBacklogCollector(lambda: 7, lambda: 2, lambda: False))
    assert value(m, "hotline_mqtt_backlog_events") == 7
    assert value(m, "hotline_mqtt_events_dropped_total") == 2
    assert value(m, "hotline_mqtt_connected") == 0


def test_work_orders_awaiting_acknowledgement_per_department() -> None:
    from ivr.metrics.collect import WorkOrderBacklogCollector
    from ivr.workorders.model import WorkOrderStatus
    from ivr.workorders.queries import awaiting_ack_by_department
    from ivr.workorders.store import InMemoryWorkOrderStore

    store = InMemoryWorkOrderStore()

    def file(target: str, department: str | None) -> str:
        return store.create(call_id=f"c-{target}", created_at=T0, target=target,
                            target_kind="subcenter", reason="no_answer", summary="s",
                            department=department).id

    file("subcenter-12366", "tax")
    sent = file("subcenter-12366", "tax")
    store.set_status(sent, WorkOrderStatus.SENT, T0)
    acked = file("subcenter-12360", "customs")
    store.set_status(acked, WorkOrderStatus.SENT, T0)
    store.set_status(acked, WorkOrderStatus.ACKNOWLEDGED, T0)
    file("utility-gas", None)
    file("utility-power", "not-a-configured-one")
    metrics = HotlineMetrics(Clock().now)
    metrics.registry.register(WorkOrderBacklogCollector(
        lambda: awaiting_ack_by_department(store), lambda: ("customs", "tax")))
    got = samples(metrics)
    name = "hotline_workorders_awaiting_ack"
    assert got[(name, (("department", "tax"),))] == 2  # open and sent both wait
    assert got[(name, (("department", "customs"),))] == 0  # acknowledged: not waiting
    assert got[(name, (("department", "none"),))] == 1
    assert got[(name, (("department", "other"),))] == 1  # bounded labels

    def broken() -> dict[str, int]:
        raise OSError("database is locked")

    failing = HotlineMetrics(Clock().now)
    failing.registry.register(WorkOrderBacklogCollector(broken, lambda: ("tax",)))
    assert not [k for k in samples(failing) if k[0] == name]  # no sample, the scrape works
