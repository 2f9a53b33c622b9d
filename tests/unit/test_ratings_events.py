"""Ratings and follow-ups on the event stream and over MQTT (topic, payload, publisher)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from ivr.core.events import (
    CallEvent,
    EventStream,
    FollowUpClosed,
    FollowUpOpened,
    RatingRecorded,
    call_event,
)
from ivr.mqtt import payloads
from ivr.mqtt.feature import KINDS
from ivr.mqtt.topics import QOS_STATE, Topics

AT = datetime(2025, 9, 26, 2, 0, tzinfo=UTC)


def test_a_rating_is_a_call_step() -> None:
    event = call_event("rated", "c1", AT, {"level": 5, "label": "非常不满意"})
    assert isinstance(event, RatingRecorded) and isinstance(event, CallEvent)
    assert event.step == "rated"


def test_followup_topic_and_payloads() -> None:
    topics = Topics("hotline", "sichuan")
    assert topics.followup("1101", "FU20250926-001") == "hotline/sichuan/followup/1101/FU20250926-001"
    assert topics.followup("a/b#", "x+") == "hotline/sichuan/followup/a_b_/x_"
    opened = payloads.followup_payload(FollowUpOpened(
        at=AT, followup_id="FU20250926-001", call_id="c1", group="1101", agent="1001",
        level=5, due="2025-10-10"))
    assert opened["status"] == "open" and opened["due"] == "2025-10-10" and opened["level"] == 5
    closed = payloads.followup_payload(FollowUpClosed(
        at=AT, followup_id="FU20250926-001", call_id="c1", group="1101",
        note="回访 13800138000 已解决", by="1101"))
    assert closed["status"] == "done"
    assert "13800138000" not in json.dumps(closed, ensure_ascii=False)  # numbers scrubbed


class FakeClient:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], int]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, json.loads(payload), qos))


def test_the_publisher_sends_followups_with_qos_1(tmp_path: Any) -> None:
    from ivr.clock import ShiftedClock
    from ivr.config.engine import load_engine_config
    from ivr.mqtt.service import MqttService
    from tests.conftest import FIXTURE_CONFIG

    config = load_engine_config(FIXTURE_CONFIG)
    stream = EventStream()
    queue = stream.queue("mqtt", KINDS, 100)
    service = MqttService(queue, lambda: config, ShiftedClock(AT), None, None, lambda: "x")
    client = FakeClient()
    event = FollowUpOpened(at=AT, followup_id="FU1", call_id="c1", group="1101", agent="1001",
                           level=4, due="2025-10-10")
    stream.publish(event)
    assert len(queue) == 1
    asyncio.run(service.publish_event(client, event))  # type: ignore[arg-type]
    [(topic, body, qos)] = client.sent
    assert topic.endswith("/followup/1101/FU1") and qos == QOS_STATE and body["id"] == "FU1"
