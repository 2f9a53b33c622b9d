"""QoS 0 call events written straight through aiomqtt's paho client, without awaiting.

aiomqtt's ``publish`` awaits every message, QoS 0 included: an ``asyncio.Event``, a timeout,
a ``call_soon_threadsafe`` to register the socket for writing, two more turns of the loop
before paho writes the packet, then paho's ``on_publish`` callback (a ``ReasonCode`` and a
``Properties`` built for a packet that has no acknowledgement) to wake the waiter. For the
publisher's stream of call events that was most of its CPU.

:class:`QuietWriter` publishes a burst of QoS 0 messages on the same paho client (same
session, same order on the wire as everything else) the way paho does without an external
loop: each ``publish`` writes its packet at once (``loop_write``), with the client's
``on_socket_register_write`` and ``on_publish`` callbacks detached for the burst and put
back after it. Nothing waits; a packet the socket cannot take now stays in paho's queue
and the socket is registered for writing with aiomqtt as usual.

It is used only when paho has nothing queued (``want_write()`` false); otherwise (a QoS 1
message is waiting for aiomqtt's writer) the burst is queued behind it and written by that
writer, as plain ``paho.publish`` calls. Everything runs on the event loop's thread.
"""

from __future__ import annotations

from collections.abc import Iterable

import aiomqtt
import paho.mqtt.client as mqtt

from ivr.mqtt.topics import QOS_EVENT


class QuietWriter:
    """QoS 0 publishes on an aiomqtt client's paho client, none of them awaited."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self._paho: mqtt.Client = client._client

    def publish(self, messages: Iterable[tuple[str, bytes]]) -> mqtt.MQTTMessageInfo | None:
        """Publish ``(topic, payload)`` pairs in order, QoS 0, not retained; the last one's
        info (``is_published()`` once it is written, and with it every earlier one), None
        for none. A connection paho knows is lost raises :class:`aiomqtt.MqttCodeError`."""
        paho = self._paho
        if paho.want_write():  # aiomqtt's writer has work queued: stay behind it
            return self._queue(messages)
        register, on_publish = paho.on_socket_register_write, paho.on_publish
        paho.on_socket_register_write = None  # paho writes at once when nobody polls for it
        paho.on_publish = None  # no ReasonCode/Properties built per QoS 0 packet
        try:
            return self._queue(messages)
        finally:
            paho.on_publish = on_publish
            paho.on_socket_register_write = register
            sock = paho.socket()
            if paho.want_write() and register is not None and sock is not None:
                # the socket took less than the burst (paho marked itself registered while
                # nobody was listening): let aiomqtt's writer finish it
                register(paho, paho.user_data_get(), sock)

    def _queue(self, messages: Iterable[tuple[str, bytes]]) -> mqtt.MQTTMessageInfo | None:
        info = None
        publish = self._paho.publish
        for topic, payload in messages:
            info = publish(topic, payload, QOS_EVENT)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        return info
