"""The MQTT feature: the event stream and work orders published to a broker (docs/events.md)."""

from __future__ import annotations

import logging

from ivr.core.events import (
    AgentStateChanged,
    AuditRecorded,
    CallEvent,
    FollowUpClosed,
    FollowUpOpened,
    RecordingDiskLow,
    TaskRestarted,
    WorkOrderCreated,
)
from ivr.core.features import Core, Feature, MissingService
from ivr.core.supervisor import TaskSpec
from ivr.mqtt.broker import hotline_password, secrets_dir
from ivr.mqtt.service import MqttService
from ivr.workorders.store import SqliteWorkOrderStore, WorkOrderStore

log = logging.getLogger(__name__)

#: read once at start-up: the broker session and the topic root
RESTART_SETTINGS: tuple[tuple[str, ...], ...] = (
    ("mqtt", "enabled"), ("mqtt", "host"), ("mqtt", "port"), ("mqtt", "tls"),
    ("mqtt", "username"), ("mqtt", "client_id"), ("mqtt", "topic_prefix"),
    ("mqtt", "keepalive_s"), ("mqtt", "queue_max"), ("mqtt", "secrets_dir"),
)
KINDS = (CallEvent, AgentStateChanged, TaskRestarted, WorkOrderCreated, FollowUpOpened,
         FollowUpClosed, RecordingDiskLow, AuditRecorded)


def register(core: Core) -> Feature:
    """MQTT: one queued subscriber on the stream and one supervised task, when enabled."""
    rules = core.current().rules.mqtt
    if not rules.enabled:
        return Feature(name="mqtt", restart_settings=RESTART_SETTINGS)
    try:
        store = core.need(WorkOrderStore)  # type: ignore[type-abstract]
    except MissingService:
        store = None
    if not isinstance(store, SqliteWorkOrderStore):
        log.warning("MQTT: no SQLite work-order store; work orders are not delivered")
        store = None
    directory = secrets_dir(rules, core.run_dir)
    queue = core.stream.queue("mqtt", KINDS, rules.queue_max)
    service = MqttService(queue, core.current, core.clock, core.calls, store,
                          lambda: hotline_password(directory))
    core.provide(MqttService, service)
    return Feature(
        name="mqtt",
        tasks=(TaskSpec("mqtt-publisher", service.run),),
        restart_settings=RESTART_SETTINGS,
    )
