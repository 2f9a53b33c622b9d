"""The MQTT publisher: one sink on the event stream, one broker session at a time.

``MqttService.run`` is a supervised task. It connects (aiomqtt, async context manager),
publishes the retained ``online`` status (the last will says ``offline``), subscribes to the
departments' ack and status topics, and then, until the connection drops, runs:

- the *pump*: events from its bounded stream queue → call, agent and task topics;
- the *deliverer*: due work orders from the store → their department's topic (QoS 1),
  resent with backoff until acknowledged, escalated after ``delivery.escalate_after_s``;
- the *inbox*: acks and status updates, checked against the order's department and the
  work-order state machine, recorded in its history, answered on the order's reply topic;
- the *stats* ticker: retained queue stats, at most once per ``queue_stats_s`` per skill.

A lost broker costs nothing but events: the stream queue keeps the newest ``queue_max``
(oldest dropped and counted) while the session reconnects with backoff (0.2 s → 10 s), and
work orders wait in the store. Nothing here ever runs on the call path.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt

from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.core.callstore import CallStore
from ivr.core.events import (
    AgentStateChanged,
    AuditRecorded,
    CallEvent,
    Event,
    EventQueue,
    FollowUpClosed,
    FollowUpOpened,
    RecordingDiskLow,
    TaskRestarted,
    WorkOrderCreated,
)
from ivr.mqtt import payloads
from ivr.mqtt.delivery import escalation_due, next_attempt, resolve_department
from ivr.mqtt.exceptions import Rejected
from ivr.mqtt.payloads import BadMessage, DepartmentStatus, dumps
from ivr.mqtt.settings import MqttRules
from ivr.mqtt.topics import QOS_EVENT, QOS_STATE, Topics
from ivr.mqtt.wire import QuietWriter
from ivr.workorders.model import IllegalWorkOrderTransition, WorkOrderNotFound, WorkOrderStatus
from ivr.workorders.store import SqliteWorkOrderStore, WrongDepartment

log = logging.getLogger(__name__)

CONTEXT_MAX = 4096  # calls whose context (line, mode, phase, …) the publisher keeps
PUBLISH_TIMEOUT_S = 10.0
BATCH_MAX = 64  # events published before the pump yields to the event loop
GATHER_S = 0.005  # how long the pump lets events gather before it writes a burst
_TERMINAL_STEPS = {"answered": "answered", "queue_result": None, "fallback": "fallback",
                   "hangup": "abandoned"}
_STATUS_OF = {DepartmentStatus.ACCEPTED: WorkOrderStatus.ACCEPTED,
              DepartmentStatus.RETURNED: WorkOrderStatus.RETURNED,
              DepartmentStatus.RESOLVED: WorkOrderStatus.RESOLVED}


@dataclass
class Counters:
    """What the publisher did (logged, and read by tests and the benchmark)."""

    connects: int = 0
    published: int = 0
    delivered: int = 0
    acknowledged: int = 0
    rejected: int = 0
    escalated: int = 0
    context_lookups: int = 0


@dataclass
class SkillStats:
    """One skill's queue, as far as the call events tell."""

    waiting: dict[str, datetime] = field(default_factory=dict)
    answered: int = 0
    abandoned: int = 0
    answered_in_target: int = 0

    def payload(self, skill: str, now: datetime, target_s: int) -> dict[str, Any]:
        longest = max(((now - t).total_seconds() for t in self.waiting.values()), default=0.0)
        handled = self.answered + self.abandoned
        return {"schema": payloads.SCHEMA_VERSION, "at": now.isoformat(), "skill": skill,
                "waiting": len(self.waiting), "longest_wait_s": round(max(longest, 0.0), 1),
                "answered": self.answered, "abandoned": self.abandoned,
                "service_level": round(self.answered_in_target / handled, 3) if handled else None,
                "service_level_target_s": target_s}


class MqttService:
    """Publishes the event stream and delivers work orders; see the module docstring."""

    def __init__(self, queue: EventQueue, config: Callable[[], EngineConfig], clock: Clock,
                 calls: CallStore | None, store: SqliteWorkOrderStore | None,
                 password: Callable[[], str]) -> None:
        self.queue = queue
        self._config = config
        self._clock = clock
        self._calls = calls
        self._store = store
        self._password = password
        self.counters = Counters()
        self._context: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._stats: dict[str, SkillStats] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._unaddressed: set[str] = set()
        self.connected = asyncio.Event()
        start = config()
        self._startup = start.rules.mqtt  # host, port, credentials: fixed until a restart
        self.topics = Topics(self._startup.topic_prefix, start.region)

    @property
    def rules(self) -> MqttRules:
        """The ``mqtt`` section in force (delivery timings and departments follow reloads)."""
        return self._config().rules.mqtt

    # --- the session ------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, and reconnect with backoff, forever."""
        delay = 0.2
        password = await asyncio.to_thread(self._password)
        while True:
            started = time.monotonic()
            try:
                await self._session(password)
            except* (aiomqtt.MqttError, OSError) as group:
                self.connected.clear()
                error = group.exceptions[0]
                if time.monotonic() - started > 30:
                    delay = 0.2
                log.warning("MQTT broker %s:%d: %s; %d events buffered (%d dropped); retrying "
                            "in %.1f s", self._startup.host, self._startup.port, error,
                            len(self.queue), self.queue.dropped, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _client(self, password: str) -> aiomqtt.Client:
        rules = self._startup
        tls: dict[str, Any] = {}
        if rules.tls.enabled:
            context = ssl.create_default_context(cafile=rules.tls.ca_file)
            if rules.tls.insecure:
                context.check_hostname = False
            tls = {"tls_context": context, "tls_insecure": rules.tls.insecure}
        offline = dumps(payloads.status_payload(False, self._clock.now(), rules.client_id))
        return aiomqtt.Client(
            rules.host, rules.port, username=rules.username, password=password,
            identifier=rules.client_id, clean_session=False, keepalive=rules.keepalive_s,
            will=aiomqtt.Will(self.topics.status, offline, qos=QOS_STATE, retain=True),
            timeout=PUBLISH_TIMEOUT_S, logger=logging.getLogger("ivr.mqtt.client"), **tls)

    async def _session(self, password: str) -> None:
        async with self._client(password) as client:
            self.counters.connects += 1
            await client.publish(self.topics.status, dumps(payloads.status_payload(
                True, self._clock.now(), self._startup.client_id)), qos=QOS_STATE, retain=True)
            await client.subscribe(self.topics.department_inbox, qos=QOS_STATE)
            log.info("MQTT connected to %s:%d as %s (root %s)", self._startup.host,
                     self._startup.port, self._startup.username, self.topics.root)
            self.connected.set()
            self._wake.set()
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._pump(client), name="mqtt-pump")
                    group.create_task(self._inbox(client), name="mqtt-inbox")
                    group.create_task(self._stats_ticker(client), name="mqtt-stats")
                    if self._store is not None:
                        group.create_task(self._deliverer(client), name="mqtt-deliver")
            finally:
                self.connected.clear()
                await self._say_offline(client)

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """A clean goodbye (the will only fires when the connection is lost)."""
        try:
            await asyncio.wait_for(client.publish(self.topics.status, dumps(payloads.status_payload(
                False, self._clock.now(), self._startup.client_id)), qos=QOS_STATE, retain=True), 2)
        except (aiomqtt.MqttError, TimeoutError, asyncio.CancelledError, OSError):
            pass

    # --- events -------------------------------------------------------------------------

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Publish the queue's events as they come, a burst at a time.

        The pump wakes on an event, lets more gather for ``GATHER_S`` (5 ms), then builds
        every call event waiting (up to ``BATCH_MAX``) and writes them in one go, QoS 0,
        one ``send``, without awaiting (:class:`QuietWriter`); an agent state, a task
        restart (QoS 1) is awaited as before, after the call events queued ahead of it.
        Should the socket stall (a slow broker), the next burst first awaits one message,
        i.e. until paho's backlog is written: paho never holds more than about a burst,
        and the backlog stays in the bounded, drop-oldest stream queue. After a full burst
        the pump lets the loop run before the next.
        """
        writer = QuietWriter(client)
        queue = self.queue
        last: mqtt.MQTTMessageInfo | None = None  # the last call event handed to paho
        burst: list[tuple[str, bytes]] = []
        while True:
            event = await queue.get()
            if len(queue) < BATCH_MAX - 1:
                # let the burst gather: a live controller's events come one by one, and
                # one write for many of them is most of what publishing costs
                await asyncio.sleep(GATHER_S)
            for _ in range(BATCH_MAX):
                if isinstance(event, CallEvent):
                    context = self._context.get(event.call_id)
                    if context is None:
                        context = await self._context_for(event)
                    else:
                        self._context.move_to_end(event.call_id)
                    burst.append(self._call_message(event, context))
                else:
                    if burst:
                        last = await self._write(client, writer, burst, last)
                        burst = []
                    await self.publish_event(client, event)
                if not len(queue):
                    break
                event = await queue.get()  # there is one: no wait
            if burst:
                last = await self._write(client, writer, burst, last)
                burst = []
            if len(queue):
                await asyncio.sleep(0)

    async def _write(self, client: aiomqtt.Client, writer: QuietWriter,
                     burst: list[tuple[str, bytes]],
                     last: mqtt.MQTTMessageInfo | None) -> mqtt.MQTTMessageInfo | None:
        """Publish a burst of call events (QoS 0); the last one handed to paho."""
        if last is not None and not last.is_published():
            # the previous burst is not written yet: wait for it (paho writes in order)
            topic, payload = burst[0]
            await client.publish(topic, payload, qos=QOS_EVENT)
            self.counters.published += 1
            burst = burst[1:]
        info = writer.publish(burst)
        self.counters.published += len(burst)
        return info

    async def publish_event(self, client: aiomqtt.Client, event: Event) -> None:
        """Publish one stream event (a call step, an agent state, a task restart), awaited."""
        if isinstance(event, CallEvent):
            topic, payload = self._call_message(event, await self._context_for(event))
            await client.publish(topic, payload, qos=QOS_EVENT)
        elif isinstance(event, AgentStateChanged):
            await client.publish(self.topics.agent_state(event.agent_id),
                                 dumps(payloads.agent_payload(event)), qos=QOS_STATE, retain=True)
        elif isinstance(event, TaskRestarted):
            await client.publish(self.topics.task, dumps(payloads.task_payload(event)),
                                 qos=QOS_STATE)
        elif isinstance(event, WorkOrderCreated):
            self._wake.set()
            return
        elif isinstance(event, FollowUpOpened | FollowUpClosed):
            await client.publish(self.topics.followup(event.group, event.followup_id),
                                 dumps(payloads.followup_payload(event)), qos=QOS_STATE)
        elif isinstance(event, RecordingDiskLow):
            await client.publish(self.topics.recording_disk, dumps(payloads.disk_payload(event)),
                                 qos=QOS_STATE, retain=True)
        elif isinstance(event, AuditRecorded):
            await client.publish(self.topics.audit(str(event.entry.get("action") or "entry")),
                                 dumps(payloads.audit_payload(event)), qos=QOS_STATE)
        else:
            return
        self.counters.published += 1

    def _call_message(self, event: CallEvent, context: dict[str, Any]) -> tuple[str, bytes]:
        """A call event's topic and payload, its call's ``context`` updated.

        The context (kept per call, bounded) carries its fields already serialized
        (``_json``, redone only on a step that may change them) and its topic prefix, so a
        payload is one encode of the step's own data. A call's context outlives its
        ``hangup``: a late step (a transfer's, after the caller hung up) is published from
        it, not from a call-store read; the LRU bound (``CONTEXT_MAX``) forgets old calls.
        """
        step = event.step
        if step in payloads.CONTEXT_STEPS:
            payloads.update_context(context, event)
            context["_json"] = payloads.context_json(context)
        elif "_json" not in context:
            context["_json"] = payloads.context_json(context)
        if step == "queued" or "_queue_skill" in context:
            self._track_queue(event, context)
        prefix = context.get("_topic")
        if prefix is None:
            prefix = context["_topic"] = self.topics.call_prefix(event.call_id)
        return (prefix + self.topics.step_level(step),
                payloads.call_payload_json(event, context["_json"]))

    async def _context_for(self, event: CallEvent) -> dict[str, Any]:
        context = self._context.get(event.call_id)
        if context is not None:
            self._context.move_to_end(event.call_id)
            return context
        context = {}
        if event.step != "decided" and self._calls is not None:
            # a call decided before a restart, or whose "decided" was dropped while the
            # broker was away: its earlier steps are in the call store
            self.counters.context_lookups += 1
            try:
                record = await self._calls.get(event.call_id)
            except Exception:  # the store is the call path's: never let it stop publishing
                log.exception("call store lookup for %s failed", event.call_id)
                record = None
            if record is not None:
                context = payloads.context_from_steps(
                    [s for s in record.steps if s.get("at", "") < event.at.isoformat()]
                    or record.steps[:1])
        self._context[event.call_id] = context
        while len(self._context) > CONTEXT_MAX:
            self._context.popitem(last=False)
        return context

    def _track_queue(self, event: CallEvent, context: dict[str, Any]) -> None:
        step = event.step
        if step == "queued":
            skill = context.get("skill") or str(event.data.get("queue", "")).removeprefix("hl-")
            if skill:
                context["_queue_skill"] = skill
                self._stats.setdefault(skill, SkillStats()).waiting[event.call_id] = event.at
                self._dirty.add(skill)
            return
        if step not in _TERMINAL_STEPS:
            return
        skill = context.get("_queue_skill")
        stats = self._stats.get(skill) if skill else None
        if stats is None:
            return
        since = stats.waiting.pop(event.call_id, None)
        if since is None:
            return
        if step == "answered":
            stats.answered += 1
            target = self._config().rules.timing.answer_target_s
            if (event.at - since).total_seconds() <= target:
                stats.answered_in_target += 1
        elif step in ("hangup", "queue_result", "fallback"):
            stats.abandoned += 1
        self._dirty.add(str(skill))

    async def _stats_ticker(self, client: aiomqtt.Client) -> None:
        interval = self.rules.queue_stats_s
        while True:
            await asyncio.sleep(interval)
            dirty = sorted(self._dirty) + [s for s, st in self._stats.items() if st.waiting]
            self._dirty.clear()
            now = self._clock.now()
            target = self._config().rules.timing.answer_target_s
            for skill in dict.fromkeys(dirty):
                await client.publish(self.topics.queue_stats(skill),
                                     dumps(self._stats[skill].payload(skill, now, target)),
                                     qos=QOS_STATE, retain=True)
                self.counters.published += 1

    # --- work orders ------------------------------------------------------------------

    async def _deliverer(self, client: aiomqtt.Client) -> None:
        assert self._store is not None
        last_escalation_check = 0.0
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.rules.delivery.poll_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.deliver_due(client)
            if time.monotonic() - last_escalation_check >= min(5.0, self.rules.delivery.poll_s * 10):
                last_escalation_check = time.monotonic()
                await self.escalate_due(client)

    async def deliver_due(self, client: aiomqtt.Client) -> int:
        """Publish every order whose (re)delivery is due; how many were sent."""
        assert self._store is not None
        now = self._clock.now()
        due = await asyncio.to_thread(self._store.due_deliveries, now)
        sent = 0
        rules = self.rules
        for order, delivery in due:
            if delivery is not None:
                department = delivery.department
            else:
                found = resolve_department(order, rules, self._config())
                if found is None:
                    if order.id not in self._unaddressed:
                        self._unaddressed.add(order.id)
                        log.warning("work order %s (target %s, line %s): no department claims "
                                    "it; set mqtt.departments or mqtt.default_department",
                                    order.id, order.target, order.line)
                    continue
                department, why = found
                log.info("work order %s addressed to %s (%s)", order.id, department, why)
            attempt = (delivery.attempts if delivery is not None else 0) + 1
            # recorded first: an ack can never arrive for an order the store has not addressed,
            # and a publish that fails is simply due again after the backoff
            order, _ = await asyncio.to_thread(self._store.record_attempt, order.id, department,
                                               now, next_attempt(now, attempt, rules.delivery))
            await client.publish(self.topics.workorder(department, order.id),
                                 dumps(payloads.workorder_payload(order, department, attempt, now)),
                                 qos=QOS_STATE)
            self.counters.delivered += 1
            sent += 1
            if attempt > 1:
                log.info("work order %s resent to %s (attempt %d)", order.id, department, attempt)
        return sent

    async def escalate_due(self, client: aiomqtt.Client) -> int:
        """Escalate (once) every order unacknowledged for ``escalate_after_s``."""
        assert self._store is not None
        now = self._clock.now()
        policy = self.rules.delivery
        store = self._store

        def due() -> list[tuple[Any, Any]]:
            found = []
            for order in store.unacknowledged(limit=None):
                delivery = store.delivery(order.id)
                if delivery is not None and escalation_due(order.created_at, delivery.escalated_at,
                                                           now, policy):
                    found.append((order, delivery))
            return found

        escalated = 0
        for order, delivery in await asyncio.to_thread(due):
            await client.publish(
                self.topics.escalation(delivery.department, order.id),
                dumps(payloads.escalation_payload(order, delivery.department, delivery.attempts,
                                                  order.created_at, now)),
                qos=QOS_STATE, retain=True)
            await asyncio.to_thread(store.mark_escalated, order.id, now)
            log.warning("work order %s escalated: %s has not acknowledged it in %.0f s",
                        order.id, delivery.department, policy.escalate_after_s)
            self.counters.escalated += 1
            escalated += 1
        return escalated

    async def _inbox(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            parsed = self.topics.parse_department(str(message.topic))
            if parsed is None:
                continue
            department, kind = parsed
            raw = message.payload if isinstance(message.payload, bytes | bytearray) else \
                str(message.payload or "").encode()
            order_id, ok, reason, status = await self.handle_inbound(department, kind, bytes(raw))
            if order_id:
                await client.publish(self.topics.reply(department, order_id), dumps(
                    payloads.reply_payload(order_id, kind, ok, reason, self._clock.now(), status)),
                    qos=QOS_STATE)

    async def handle_inbound(self, department: str, kind: str,
                             raw: bytes) -> tuple[str, bool, str, str | None]:
        """Apply one ack or status update from ``department`` (its topic says who, the
        broker's ACL guarantees it): ``(order id, ok, reason, status)``; refusals logged."""
        order_id = ""
        try:
            if self._store is None:
                raise Rejected("", "work orders are not stored here")
            message = payloads.parse_inbound(kind, raw)
            order_id = message.id
            now = self._clock.now()
            if isinstance(message, payloads.Ack):
                order, fresh = await asyncio.to_thread(self._store.acknowledge, order_id,
                                                       department, message.by, now)
                reason = "acknowledged" if fresh else "already acknowledged"
                if fresh:
                    self.counters.acknowledged += 1
                    log.info("work order %s acknowledged by %s (%s)", order_id, message.by,
                             department)
            else:
                note = f"{message.status} by {message.by} ({department})"
                if message.reason:
                    note += f": {message.reason}"
                order = await asyncio.to_thread(self._store.department_update, order_id,
                                                department, _STATUS_OF[message.status], now, note)
                reason = str(message.status)
                log.info("work order %s %s", order_id, note)
            return order_id, True, reason, str(order.status)
        except (BadMessage, Rejected, WorkOrderNotFound, WrongDepartment,
                IllegalWorkOrderTransition) as exc:
            self.counters.rejected += 1
            reason = exc.reason if isinstance(exc, Rejected) else str(exc)
            log.warning("MQTT %s from department %s refused: %s", kind, department, reason)
            # an unknown id gets no reply topic: it would name an order that does not exist
            known = order_id and not isinstance(exc, WorkOrderNotFound | BadMessage)
            return (order_id if known else ""), False, reason, None
