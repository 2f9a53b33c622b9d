"""MQTT topics, payloads (masking), settings and the rendered broker configuration."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from ivr.core.events import AgentStateChanged, EventStream, call_event
from ivr.mqtt import payloads
from ivr.mqtt.broker import acl_text, conf_text
from ivr.mqtt.settings import MqttRules
from ivr.mqtt.topics import Topics
from ivr.workorders import InMemoryWorkOrderStore

T = Topics("hotline", "sichuan")
AT = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


def test_topic_tree() -> None:
    assert T.status == "hotline/sichuan/status"
    assert T.call("1763861441.57", "decided") == "hotline/sichuan/call/1763861441.57/decided"
    assert T.agent_state("1001") == "hotline/sichuan/agent/1001/state"
    assert T.queue_stats("tax") == "hotline/sichuan/queue/tax/stats"
    assert T.workorder("tax", "WO-20261123-0001") == "hotline/sichuan/workorder/tax/WO-20261123-0001"
    assert T.reply("tax", "WO-1") == "hotline/sichuan/workorder/tax/WO-1/reply"
    assert T.escalation("tax", "WO-1") == "hotline/sichuan/escalation/tax/WO-1"
    assert T.ack("tax") == "hotline/sichuan/department/tax/ack"
    assert T.department_status("tax") == "hotline/sichuan/department/tax/status"


def test_topic_levels_never_carry_wildcards_or_separators() -> None:
    assert T.call("a/b+c#", "x y") == "hotline/sichuan/call/a_b_c_/x_y"
    assert T.agent_state("") == "hotline/sichuan/agent/_/state"


def test_parsing_department_and_workorder_topics() -> None:
    assert T.parse_department("hotline/sichuan/department/tax/ack") == ("tax", "ack")
    assert T.parse_department("hotline/sichuan/department/tax/status") == ("tax", "status")
    assert T.parse_department("hotline/sichuan/department/tax/other") is None
    assert T.parse_department("hotline/anhui/department/tax/ack") is None
    assert T.parse_workorder("hotline/sichuan/workorder/tax/WO-1") == ("tax", "WO-1", "order")
    assert T.parse_workorder("hotline/sichuan/workorder/tax/WO-1/reply") == ("tax", "WO-1", "reply")
    assert T.parse_workorder("hotline/sichuan/workorder/tax") is None


def _context(*steps: tuple[str, dict[str, object]]) -> dict[str, object]:
    context: dict[str, object] = {}
    for step, data in steps:
        payloads.update_context(context, call_event(step, "c1", AT, data))
    return context


def test_call_payload_carries_the_context_of_earlier_steps() -> None:
    context = _context(("decided", {"number": "12345", "caller": "138******00", "mode": "main",
                                    "phase": "active", "skill": "general", "region": "sichuan"}),
                       ("classified", {"classification": {"domain": "tax", "urgency": "normal",
                                                          "confidence": 0.9, "extra": 1}}),
                       ("answered", {"agent": "1001"}))
    body = payloads.call_payload(call_event("hangup", "c1", AT, {"cause": "16"}), context)
    assert body["schema"] == payloads.SCHEMA_VERSION and body["event"] == "hangup"
    assert body["at"] == AT.isoformat() and body["call_id"] == "c1"
    assert (body["line"], body["mode"], body["phase"], body["skill"]) == ("12345", "main", "active",
                                                                          "general")
    assert body["classification"] == {"domain": "tax", "urgency": "normal", "confidence": 0.9}
    assert body["outcome"] == "answered" and body["caller"] == "138******00"
    assert body["data"] == {"cause": "16"}


def test_hangup_without_an_answer_is_abandoned() -> None:
    context = _context(("decided", {"number": "12345"}), ("queued", {}), ("hangup", {}))
    assert context["outcome"] == "abandoned"


def test_no_whole_number_survives_in_a_payload() -> None:
    unmasked = _context(("decided", {"number": "12345", "caller": "13800138000"}))
    body = payloads.call_payload(call_event("classified", "1763861441.57", AT, {
        "transcript": "我的电话是 138 0013 8000，身份证 510104199001011234",
        "caller": "13800138000", "nested": {"list": ["13912345678"]},
        "transfer": "xfer-1234567890ab"}), unmasked)
    text = json.dumps(body, ensure_ascii=False)
    for whole in ("13800138000", "510104199001011234", "13912345678"):
        assert whole not in text
    assert body["caller"] == "138******00"
    assert body["call_id"] == "1763861441.57" and body["data"]["transfer"] == "xfer-1234567890ab"
    assert "caller" not in body["data"]


def test_workorder_payload_names_its_department_and_attempt() -> None:
    store = InMemoryWorkOrderStore()
    order = store.create(call_id="c1", created_at=AT, target="subcenter-12366",
                         target_kind="subcenter", reason="no_answer",
                         summary="来电人 13800138000 咨询", department="税务 tax sub-center",
                         line="12345", caller_masked="138******00")
    body = payloads.workorder_payload(order, "tax", 3, AT)
    assert (body["id"], body["department"], body["attempt"]) == (order.id, "tax", 3)
    assert body["department_name"] == "税务 tax sub-center" and "history" not in body
    assert "13800138000" not in json.dumps(body, ensure_ascii=False)


def test_agent_and_status_payloads() -> None:
    agent = payloads.agent_payload(AgentStateChanged(at=AT, agent_id="1001", state="paused",
                                                     previous="idle", reason="meal"))
    assert agent == {"schema": 1, "at": AT.isoformat(), "agent_id": "1001", "state": "paused",
                     "previous": "idle", "reason": "meal"}
    assert payloads.status_payload(False, AT, "hotline-controller")["status"] == "offline"


@pytest.mark.parametrize(("kind", "raw", "message"), [
    ("ack", b"not json", "not JSON"),
    ("ack", b'{"id": "WO-1"}', "by: Field required"),
    ("status", b'{"id": "WO-1", "status": "closed", "by": "x"}', "status:"),
    ("status", b'{"id": "WO-1", "status": "returned", "by": "x"}', "needs a reason"),
])
def test_inbound_messages_are_validated(kind: str, raw: bytes, message: str) -> None:
    with pytest.raises(payloads.BadMessage, match=message):
        payloads.parse_inbound(kind, raw)


def test_inbound_ack_and_status_parse() -> None:
    ack = payloads.parse_inbound("ack", b'{"id": "WO-1", "by": "\xe7\x8e\x8b"}')
    assert isinstance(ack, payloads.Ack) and ack.by == "王"
    update = payloads.parse_inbound("status", b'{"id": "WO-1", "status": "returned", "by": "x", '
                                              b'"reason": "not ours"}')
    assert isinstance(update, payloads.StatusUpdate) and update.reason == "not ours"


def test_settings_are_strict_and_loopback_by_default() -> None:
    rules = MqttRules()
    assert (rules.enabled, rules.host, rules.port, rules.tls.enabled) == (False, "127.0.0.1", 1883,
                                                                          False)
    with pytest.raises(ValidationError, match="Extra inputs"):
        MqttRules.model_validate({"hots": "x"})
    with pytest.raises(ValidationError, match="default_department"):
        MqttRules.model_validate({"default_department": "nobody"})
    with pytest.raises(ValidationError, match="resend_max_s"):
        MqttRules.model_validate({"delivery": {"resend_initial_s": 10, "resend_max_s": 5}})


def test_shipped_configuration_has_an_mqtt_section() -> None:
    from ivr.config.engine import load_engine_config

    rules = load_engine_config(Path(__file__).resolve().parents[2]).rules.mqtt
    assert rules.enabled and rules.host == "127.0.0.1"
    assert "subcenter-12366" in rules.departments["tax"].targets


def test_acl_lets_each_department_read_and_write_only_its_own_topics() -> None:
    rules = MqttRules.model_validate({"departments": {"tax": {"name": "税务"},
                                                      "customs": {"name": "海关"}}})
    acl = acl_text(rules, "sichuan")
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in acl.split("\n\n") if b.startswith("user")}
    assert blocks["user hotline"] == ["topic readwrite hotline/sichuan/#"]
    assert blocks["user tax"] == ["topic read hotline/sichuan/workorder/tax/#",
                                  "topic read hotline/sichuan/escalation/tax/#",
                                  "topic write hotline/sichuan/department/tax/ack",
                                  "topic write hotline/sichuan/department/tax/status"]
    assert not any("customs" in line for line in blocks["user tax"])


def test_broker_conf_is_loopback_without_anonymous_clients(tmp_path: Path) -> None:
    text = conf_text(MqttRules(), tmp_path, port=18830)
    assert "listener 18830 127.0.0.1" in text and "allow_anonymous false" in text
    assert f"password_file {tmp_path / 'passwd'}" in text and "persistence true" in text


def test_a_full_stream_queue_drops_the_oldest_call_events_and_counts_them() -> None:
    from ivr.mqtt.feature import KINDS

    stream = EventStream()
    queue = stream.queue("mqtt", KINDS, 100)
    for n in range(150):
        stream.publish(call_event("queued", f"c{n}", AT, {}))
    assert len(queue) == 100 and queue.dropped == 50
