"""The metrics feature: ``hotline_*`` Prometheus metrics from the event stream, served at
``http://127.0.0.1:9345/metrics`` (``metrics:`` in routing_rules.yaml, read at start-up)."""

from __future__ import annotations

from ivr.core.events import (
    AgentStateChanged,
    CallDecided,
    CallEvent,
    TaskRestarted,
    WorkOrderCreated,
)
from ivr.core.features import Core, Feature, MissingService
from ivr.core.supervisor import TaskSpec
from ivr.metrics.collect import HotlineMetrics, QueueBacklogCollector, WorkOrderBacklogCollector
from ivr.metrics.http import MetricsServer

RESTART_SETTINGS: tuple[tuple[str, ...], ...] = (
    ("metrics", "enabled"), ("metrics", "host"), ("metrics", "port"),
)
KINDS = (CallEvent, AgentStateChanged, TaskRestarted, WorkOrderCreated)
QUEUE_MAX = 10_000


def register(core: Core) -> Feature:
    """Metrics: an inline timer on decisions, a queued subscriber, the HTTP server task."""
    config = core.current()
    rules = config.rules.metrics
    if not rules.enabled:
        return Feature(name="metrics", restart_settings=RESTART_SETTINGS)
    metrics = HotlineMetrics(core.clock.now, core.run_dir.acd_snapshot,
                             target_s=config.rules.timing.answer_target_s)
    core.stream.subscribe("metrics-decision-latency", metrics.on_decided, (CallDecided,))
    queue = core.stream.queue("metrics", KINDS, QUEUE_MAX)
    core.provide(HotlineMetrics, metrics)
    try:  # MQTT's delivery backlog, where the mqtt feature runs (registered earlier)
        from ivr.mqtt.service import MqttService

        mqtt = core.need(MqttService)
        metrics.registry.register(QueueBacklogCollector(
            lambda: len(mqtt.queue), lambda: mqtt.queue.dropped, mqtt.connected.is_set))
    except MissingService:
        pass

    _watch_workorders(core, metrics)

    async def consume() -> None:
        async for event in queue:
            metrics.handle(event)
            metrics.events_dropped.set(queue.dropped)

    server = MetricsServer(metrics.registry, rules.host, rules.port)
    return Feature(
        name="metrics",
        tasks=(TaskSpec("metrics-events", consume), TaskSpec("metrics-http", server.serve)),
        restart_settings=RESTART_SETTINGS,
    )


def _watch_workorders(core: Core, metrics: HotlineMetrics) -> None:
    """``hotline_workorders_awaiting_ack`` per department, where the workorders feature runs
    (the department as the MQTT delivery resolves it)."""
    from ivr.mqtt.delivery import resolve_department
    from ivr.workorders.model import WorkOrder
    from ivr.workorders.queries import awaiting_ack_by_department
    from ivr.workorders.store import WorkOrderStore

    try:
        store = core.need(WorkOrderStore)  # type: ignore[type-abstract]
    except MissingService:
        return

    def department(order: WorkOrder) -> str | None:
        config = core.current()
        found = resolve_department(order, config.rules.mqtt, config)
        return found[0] if found is not None else order.department

    metrics.registry.register(WorkOrderBacklogCollector(
        lambda: awaiting_ack_by_department(store, department),
        lambda: tuple(core.current().rules.mqtt.departments)))
