"""The QoS 0 PUBLISH encoder the publisher writes its bursts with (MQTT 3.1.1 / 5, 3.3)."""

from __future__ import annotations

import pytest

from ivr.mqtt.wire import encode_publish


def test_a_short_publish_is_header_length_topic_payload() -> None:
    assert encode_publish("a/b", b"hi") == b"\x30\x07\x00\x03a/bhi"


def test_mqtt5_adds_an_empty_property_list() -> None:
    assert encode_publish("a/b", b"hi", mqtt5=True) == b"\x30\x08\x00\x03a/b\x00hi"


@pytest.mark.parametrize(("size", "length_bytes"), [(124, b"\x7f"), (125, b"\x80\x01"),
                                                    (16_380, b"\xff\x7f"),
                                                    (16_381, b"\x80\x80\x01")])
def test_the_remaining_length_is_a_varint(size: int, length_bytes: bytes) -> None:
    packet = encode_publish("t", b"x" * size)  # remaining = 2 + 1 + size
    assert packet[1:1 + len(length_bytes)] == length_bytes
    assert len(packet) == 1 + len(length_bytes) + 3 + size


def test_a_chinese_topic_is_counted_in_utf8_bytes() -> None:
    packet = encode_publish("hotline/四川/status", b"{}")
    name = "hotline/四川/status".encode()
    assert packet[2:4] == len(name).to_bytes(2, "big") and packet[4:4 + len(name)] == name


@pytest.mark.parametrize("topic", ["", "a/+/b", "a/#", "a\0b"])
def test_a_topic_a_broker_would_refuse_is_rejected(topic: str) -> None:
    with pytest.raises(ValueError):
        encode_publish(topic, b"x")


def test_the_packet_matches_what_paho_puts_on_the_wire() -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    class Capture(mqtt.Client):
        def _packet_queue(self, command, packet, mid, qos, info=None):  # type: ignore[no-untyped-def]
            self.captured = bytes(packet)
            return mqtt.MQTT_ERR_SUCCESS

    for protocol, mqtt5 in ((mqtt.MQTTv311, False), (mqtt.MQTTv5, True)):
        client = Capture(CallbackAPIVersion.VERSION2, protocol=protocol)
        client._sock = object()  # type: ignore[assignment]  # "connected": nothing is sent
        client._send_publish(0, b"hotline/sichuan/call/1.2/decided", b'{"schema":1}')
        client._sock = None
        assert encode_publish("hotline/sichuan/call/1.2/decided", b'{"schema":1}',
                              mqtt5) == client.captured
