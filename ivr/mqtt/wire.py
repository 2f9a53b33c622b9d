"""QoS 0 call events written in bursts on aiomqtt's connection, without awaiting.

aiomqtt's ``publish`` awaits every message, QoS 0 included (an ``asyncio.Event``, a timeout,
a ``call_soon_threadsafe``, two more loop turns, then paho's ``on_publish`` callback); paho's
own ``publish`` still validates, builds an info object and a packet dict, pokes its wake-up
socket and sends, one system call or two per message. For the publisher's stream of call
events that was most of its CPU.

:func:`encode_publish` is the QoS 0 PUBLISH packet with no I/O (MQTT 3.1.1 and 5, section
3.3). :class:`QuietWriter` writes a burst of them as **one** ``send`` on the paho client's
socket when paho has nothing queued (so the wire order is the order of the calls); the
part the socket does not take now is handed to paho as one queued packet, written by
aiomqtt's writer like any other. When paho has something queued (a QoS 1 message waiting
for the writer) the burst goes behind it through plain ``paho.publish`` calls. Everything
runs on the event loop's thread.
"""

from __future__ import annotations

from collections.abc import Iterable

import aiomqtt
import paho.mqtt.client as mqtt

from ivr.mqtt.topics import QOS_EVENT

PUBLISH_QOS0 = 0x30  # packet type 3, no DUP, QoS 0, no RETAIN
MAX_REMAINING = 268_435_455  # the largest remaining length four varint bytes can say


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def encode_publish(topic: str, payload: bytes, mqtt5: bool = False) -> bytes:
    """One QoS 0, not retained PUBLISH packet (no packet id; MQTT 5 adds an empty property
    list). Rejects what a broker would disconnect for: wildcards or NUL in the topic name,
    an empty topic, a packet too large."""
    name = topic.encode()
    if not name or len(name) > 0xFFFF or any(c in topic for c in "+#\0"):
        raise ValueError(f"invalid MQTT topic name {topic!r}")
    variable = len(name).to_bytes(2, "big") + name + (b"\x00" if mqtt5 else b"")
    remaining = len(variable) + len(payload)
    if remaining > MAX_REMAINING:
        raise ValueError("MQTT packet too large")
    return b"%c%s%s%s" % (PUBLISH_QOS0, _varint(remaining), variable, payload)


class QuietWriter:
    """QoS 0 publishes on an aiomqtt client's connection, none of them awaited."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self._paho: mqtt.Client = client._client
        self._mqtt5 = self._paho.protocol == mqtt.MQTTv5

    def publish(self, messages: Iterable[tuple[str, bytes]]) -> mqtt.MQTTMessageInfo | None:
        """Publish ``(topic, payload)`` pairs in order, QoS 0, not retained; an info that
        is published once the last of them is written (and with it every earlier one),
        None for none. A lost connection raises :class:`aiomqtt.MqttCodeError`."""
        paho = self._paho
        if paho.want_write():  # aiomqtt's writer has work queued: stay behind it
            return self._through_paho(messages)
        mqtt5 = self._mqtt5
        burst = b"".join(encode_publish(topic, payload, mqtt5) for topic, payload in messages)
        if not burst:
            return None
        info = mqtt.MQTTMessageInfo(0)
        try:
            sent = paho._sock_send(burst)
        except BlockingIOError:
            sent = 0
        except (AttributeError, ValueError, OSError) as exc:  # no socket, or it broke
            raise aiomqtt.MqttCodeError(mqtt.MQTT_ERR_CONN_LOST, "Could not publish") from exc
        if sent >= len(burst):
            info._set_as_published()
            return info
        # the socket took part of it: the rest is one packet in paho's queue, written by
        # aiomqtt's writer before anything published after it
        rest = burst[sent:]
        paho._out_packet.append({"command": mqtt.PUBLISH, "mid": 0, "qos": 0, "pos": 0,
                                 "to_process": len(rest), "packet": rest, "info": info})
        paho._call_socket_register_write()
        return info

    def _through_paho(self, messages: Iterable[tuple[str, bytes]]) -> mqtt.MQTTMessageInfo | None:
        info = None
        publish = self._paho.publish
        for topic, payload in messages:
            info = publish(topic, payload, QOS_EVENT)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        return info
