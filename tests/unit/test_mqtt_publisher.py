"""The publisher's hot path: payload bytes identical to the reference payload, and call
events written through paho without awaiting (against a minimal in-process broker)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import struct
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from ivr.core.events import _BY_STEP, AgentStateChanged, EventStream, call_event
from ivr.mqtt import payloads
from ivr.mqtt.topics import Topics, level
from ivr.mqtt.wire import QuietWriter

AT = datetime(2026, 11, 23, 9, 30, 12, 401000, tzinfo=timezone(timedelta(hours=8)))
DECIDED = {"number": "12345", "caller": "138******00", "region": "sichuan", "mode": "main",
           "line_name": "12345政务服务便民热线", "phase": "active", "skill": "general",
           "queue": "hl-general", "prompts": ["welcome", "menu"]}


class Colour(StrEnum):
    RED = "red"


DATA: list[dict[str, Any]] = [
    {},
    {"channel": "PJSIP/trunk-00000012", "queue": "hl-general", "status": "ANSWER"},
    {"caller": "13800138000", "transcript": "我的电话是 138 0013 8000，身份证 510104199001011234"},
    {"transfer": "xfer-1234567890ab", "call_id": "1763861441.57", "order_id": "WO-20261123-0001"},
    {"nested": {"list": ["13912345678", ("a", 1234567)], "n": 12345678901}, "f": 1.5,
     "ok": True, "none": None, "when": AT, "colour": Colour.RED, 3: "x"},
    {"classification": {"domain": "tax", "request_type": "咨询", "urgency": "normal",
                        "confidence": 0.91}},
    {"hold_s": 3, "ring_s": None, "agent": "1001", "interface": "PJSIP/agent-1001"},
]


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("step", ["answered", "classified", "hangup", "transfer_failed",
                                  "some_new_step"])
def test_the_hot_path_payload_is_the_reference_payload_byte_for_byte(
        step: str, data: dict[str, Any]) -> None:
    for decided in (DECIDED, {"number": "12345", "caller": "13800138000"}, {}):
        context: dict[str, Any] = {}
        payloads.update_context(context, call_event("decided", "c1", AT, decided))
        event = call_event(step, "1763861441.57", AT, data)
        payloads.update_context(context, event)
        reference = payloads.dumps(payloads.call_payload(event, context))
        fast = payloads.call_payload_json(event, payloads.context_json(context))
        assert fast == reference
        assert json.loads(fast)["data"].get("transcript", "").count("13800138000") == 0


def test_only_the_context_steps_change_a_context() -> None:
    steps = [*_BY_STEP, "transfer_failed", "whatever"]
    for step in steps:
        for data in [*DATA, DECIDED, {"status": "NOANSWER", "skill": "tax"}]:
            context: dict[str, Any] = {"caller": "138******00", "outcome": None}
            before = dict(context)
            payloads.update_context(context, call_event(step, "c1", AT, data))
            if step not in payloads.CONTEXT_STEPS:
                assert context == before, step


def test_call_topics_from_the_cached_prefix() -> None:
    topics = Topics("hotline", "si/chuan")
    for call_id, step in [("1763861441.57", "decided"), ("a/b+c#", "x y"), ("", "")]:
        assert topics.call(call_id, step) == \
            f"hotline/{level('si/chuan')}/call/{level(call_id)}/{level(step)}"
        assert topics.call_prefix(call_id) + topics.step_level(step) == topics.call(call_id, step)


# --- a minimal broker: CONNECT, SUBSCRIBE, PUBLISH (QoS 0/1), PINGREQ -------------------


@dataclass
class Broker:
    received: list[tuple[str, int, bytes]] = field(default_factory=list)
    reading: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await self.reading.wait()
                head = (await reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    byte = (await reader.readexactly(1))[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await reader.readexactly(length)
                kind = head & 0xF0
                if kind == 0x10:
                    writer.write(b"\x20\x02\x00\x00")
                elif kind == 0x80:
                    writer.write(b"\x90\x03" + body[:2] + b"\x01")
                elif kind == 0x30:
                    qos = (head >> 1) & 3
                    (size,) = struct.unpack("!H", body[:2])
                    topic = body[2:2 + size].decode()
                    rest = body[2 + size:]
                    if qos:
                        writer.write(b"\x40\x02" + rest[:2])
                        rest = rest[2:]
                    self.received.append((topic, qos, rest))
                elif kind == 0xC0:
                    writer.write(b"\xd0\x00")
                elif kind == 0xE0:
                    return
                await writer.drain()


@contextlib.asynccontextmanager
async def broker() -> AsyncIterator[Broker]:
    made = Broker()
    made.reading.set()
    server = await asyncio.start_server(made.serve, "127.0.0.1", 0)
    made.port = server.sockets[0].getsockname()[1]
    async with server:
        yield made
        server.close()


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_burst_is_written_at_once_and_a_stalled_socket_is_left_to_the_loop() -> None:
    async with broker() as fake, aiomqtt.Client("127.0.0.1", fake.port) as client:
        writer = QuietWriter(client)
        info = writer.publish([(f"t/{n}", b"x%d" % n) for n in range(20)])
        assert info is not None and info.is_published()  # written before publish returned
        await until(lambda: len(fake.received) == 20)
        assert [t for t, _, _ in fake.received] == [f"t/{n}" for n in range(20)]

        fake.reading.clear()  # the broker stops reading: the socket fills
        big = b"y" * 200_000
        info = writer.publish([(f"big/{n}", big) for n in range(60)])
        assert info is not None and not info.is_published()
        # a QoS 1 publish queues behind the backlog; a burst meanwhile stays behind it too
        publishing = asyncio.create_task(client.publish("state", b"s", qos=1))
        await asyncio.sleep(0.05)
        late = writer.publish([("after", b"z")])
        fake.reading.set()
        await asyncio.wait_for(publishing, 10)
        await until(lambda: late is not None and late.is_published())
        await until(lambda: len(fake.received) == 20 + 60 + 2)
        topics = [t for t, _, _ in fake.received[20:]]
        assert topics == [f"big/{n}" for n in range(60)] + ["state", "after"]
        sock = client._client.socket()
        assert sock is not None and not client._client.want_write()
        # nothing left registered for writing (no busy loop on an always-writable socket)
        assert asyncio.get_running_loop().remove_writer(sock.fileno()) is False
        again = writer.publish([("again", b"1")])
        assert again is not None and again.is_published()


async def test_the_publisher_sends_call_events_in_order_with_qos1_state_between() -> None:
    from ivr.config.engine import load_engine_config
    from ivr.mqtt.feature import KINDS
    from ivr.mqtt.service import MqttService

    config = load_engine_config(Path(__file__).resolve().parents[2])

    class Clock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    async with broker() as fake:
        rules = config.rules.mqtt.model_copy(update={"port": fake.port})
        config = dataclasses.replace(config, rules=config.rules.model_copy(update={"mqtt": rules}))
        stream = EventStream()
        queue = stream.queue("mqtt", KINDS, 1000)
        service = MqttService(queue, lambda: config, Clock(), None, None, lambda: "secret")
        task = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(service.connected.wait(), 5)
            expected: list[tuple[str, bytes]] = []
            topics = service.topics
            for n in range(3):
                call_id = f"1763861441.{n}"
                context: dict[str, Any] = {}
                for step, data in [("decided", DECIDED), ("queued", {"queue": "hl-general"}),
                                   ("answered", {"agent": "1001", "hold_s": 2}),
                                   ("hangup", {"cause": "16"}),
                                   ("transfer_failed", {"transfer": "xfer-1"})]:
                    event = call_event(step, call_id, AT, data)
                    payloads.update_context(context, event)
                    expected.append((topics.call(call_id, step),
                                     payloads.dumps(payloads.call_payload(event, context))))
                    stream.publish(event)
                    if n == 1 and step == "queued":
                        state = AgentStateChanged(at=AT, agent_id="1001", state="ringing")
                        expected.append((topics.agent_state("1001"),
                                         payloads.dumps(payloads.agent_payload(state))))
                        stream.publish(state)
            await until(lambda: len([r for r in fake.received if "/status" not in r[0]
                                     and "/queue/" not in r[0]]) == len(expected))
            got = [(t, p) for t, _, p in fake.received if not t.endswith("/status")
                   and "/queue/" not in t]
            assert got == expected
            qos = {t: q for t, q, _ in fake.received}
            assert qos[topics.agent_state("1001")] == 1
            assert qos[topics.call("1763861441.0", "decided")] == 0
            assert service.counters.published >= len(expected)
            assert service.counters.context_lookups == 0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def test_context_json_is_the_context_fields_of_a_payload() -> None:
    context: dict[str, Any] = {"_json": "stale", "_queue_skill": "general"}
    payloads.update_context(context, call_event("decided", "c1", AT, DECIDED))
    body = json.loads("{" + payloads.context_json(context) + "}")
    assert list(body) == list(payloads.CONTEXT_FIELDS)
    assert isinstance(body, Mapping) and body["line_name"] == "12345政务服务便民热线"
