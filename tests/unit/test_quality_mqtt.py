"""Quality control on the event stream and MQTT (issue 15): recording steps are typed call
events, the low-disk state and audit entries are events of their own, and what reaches the
broker names the call but never a file path or a whole caller number."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ivr.config.engine import load_engine_config
from ivr.core.events import (
    AuditRecorded,
    EventStream,
    RecordingDeleted,
    RecordingDiskLow,
    RecordingSkipped,
    RecordingStarted,
    RecordingStopped,
    call_event,
)
from ivr.mqtt import payloads
from ivr.mqtt.feature import KINDS
from ivr.mqtt.service import MqttService
from ivr.mqtt.topics import QOS_STATE
from ivr.quality.store import AuditEntry

REPO = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
CALL = "1795917600.57"
PATH = f"/var/spool/hotline12345/recordings/20261129/{CALL}.gsm"
STEPS: list[tuple[str, type, dict[str, Any]]] = [
    ("recording_started", RecordingStarted,
     {"path": PATH, "format": "gsm", "parties": ["caller:138******78", "agent:1001"]}),
    ("recording", RecordingStopped,
     {"path": PATH, "kind": "conversation", "format": "gsm", "duration_s": 94.2,
      "size_bytes": 155430, "parties": ["caller:138******78", "agent:1001"],
      "started": "2026-11-29T01:31:07+00:00", "ended": "2026-11-29T01:32:41+00:00"}),
    ("recording_deleted", RecordingDeleted,
     {"path": PATH, "kind": "conversation", "reason": "retention", "age_days": 200.0}),
    ("recording_skipped", RecordingSkipped, {"reason": "low_disk"}),
]


@pytest.mark.parametrize(("step", "cls", "data"), STEPS)
def test_recording_steps_are_typed_and_published_without_their_path(
        step: str, cls: type, data: dict[str, Any]) -> None:
    event = call_event(step, CALL, AT, data)
    assert isinstance(event, cls) and event.step == step
    context: dict[str, Any] = {}
    payloads.update_context(context, call_event("decided", CALL, AT, {"caller": "13800138078"}))
    reference = payloads.dumps(payloads.call_payload(event, context))
    fast = payloads.call_payload_json(event, payloads.context_json(context))
    assert fast == reference  # the hot path and the reference agree
    body = json.loads(fast)
    assert body["event"] == step and body["call_id"] == CALL
    assert "path" not in body["data"] and "/var/spool" not in fast.decode()
    assert "13800138078" not in fast.decode() and body["caller"] == "138******78"
    kept = {k: v for k, v in data.items() if k != "path"}
    assert body["data"] == json.loads(json.dumps(kept))


def test_the_low_disk_state_has_its_own_retained_topic() -> None:
    event = RecordingDiskLow(at=AT, low=True, free_mb=512, threshold_mb=1024,
                             store="/var/spool/hotline12345/recordings")
    body = payloads.disk_payload(event)
    assert body == {"schema": payloads.SCHEMA_VERSION, "at": AT.isoformat(), "low": True,
                    "free_mb": 512, "threshold_mb": 1024}


def audit(action: str, **fields: Any) -> AuditRecorded:
    entry = AuditEntry(at=AT.isoformat(), actor=fields.pop("actor", "1101"), action=action,
                       id=7, **fields)
    return AuditRecorded(at=AT, entry=entry.to_json())


def test_audit_entries_name_the_call_but_no_file() -> None:
    switch = payloads.audit_payload(audit(
        "monitor_mode", subject="1001", call_id=CALL, mode="whisper", outcome="switched",
        detail={"by": "phone", "session": "1795917600.60", "from_mode": "listen",
                "to_mode": "whisper"}))
    assert (switch["actor"], switch["subject"], switch["call_id"], switch["mode"]) == (
        "1101", "1001", CALL, "whisper")
    assert switch["detail"]["from_mode"] == "listen" and switch["at"] == AT.isoformat()
    deleted = payloads.audit_payload(audit(
        "retention_delete", actor="retention", subject=PATH, call_id=CALL, outcome="deleted",
        detail={"kind": "conversation", "age_days": 200.0, "size_bytes": 1234}))
    assert deleted["subject"] is None and deleted["call_id"] == CALL
    assert deleted["detail"] == {"kind": "conversation", "age_days": 200.0, "size_bytes": 1234}
    exported = payloads.audit_payload(audit(
        "export", actor="qa-zhou", subject="/tmp/case-0457", call_id=CALL, outcome="exported",
        detail={"files": [PATH, "/tmp/case-0457/x.json"], "reason": "投诉 13800138078"}))
    assert exported["subject"] is None and "files" not in exported["detail"]
    text = json.dumps(exported, ensure_ascii=False)
    assert "/tmp/" not in text and "/var/" not in text and "13800138078" not in text


class Client:
    """What the publisher calls on aiomqtt's client."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], int, bool]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0,
                      retain: bool = False) -> None:
        self.sent.append((topic, json.loads(payload), qos, retain))


def test_the_publisher_maps_quality_events_to_their_topics() -> None:
    config = load_engine_config(REPO)
    queue = EventStream().queue("mqtt", KINDS, 10)
    service = MqttService(queue, lambda: config, None, None, None,  # type: ignore[arg-type]
                          lambda: "secret")
    client = Client()
    disk = RecordingDiskLow(at=AT, low=False, free_mb=40000, threshold_mb=1024, store="/x")
    asyncio.run(service.publish_event(client, disk))  # type: ignore[arg-type]
    asyncio.run(service.publish_event(client, audit("monitor_start", subject="1001",  # type: ignore[arg-type]
                                                    call_id=CALL, mode="listen")))
    root = service.topics.root
    assert [(t, q, r) for t, _, q, r in client.sent] == [
        (f"{root}/recording/disk", QOS_STATE, True), (f"{root}/audit/monitor_start", QOS_STATE,
                                                     False)]
    assert client.sent[0][1]["low"] is False and client.sent[1][1]["subject"] == "1001"
    assert RecordingDiskLow in KINDS and AuditRecorded in KINDS
