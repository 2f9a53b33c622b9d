"""The quality feature: call recording, its retention and disk guard, the audit trail."""

from __future__ import annotations

import asyncio
import logging

from ivr.calls.feature import RouteExtras
from ivr.core.events import AuditRecorded, CallEvent, Event
from ivr.core.features import AmiSubscription, Core, Feature
from ivr.core.supervisor import TaskSpec
from ivr.quality.recording import RecordingService
from ivr.quality.store import DB_NAME, QualityStore
from ivr.quality.supervision import SupervisionService

log = logging.getLogger(__name__)

#: how often the free space of the recordings store is measured
DISK_CHECK_S = 2.0
#: how often new audit entries (written by the CLI too) are published on the stream
AUDIT_POLL_S = 1.0


def register(core: Core) -> Feature:
    """Recording: a planner in every route decision, a step subscriber, two tasks."""
    store = QualityStore(core.run_dir.path / DB_NAME)
    service = RecordingService(core.current, core.clock, core.steps, store,
                               core.prompts.sound_name, core.stream.publish)
    core.provide(RecordingService, service)
    core.provide(QualityStore, store)
    core.need(RouteExtras).add("recording", service.plan)
    supervision = SupervisionService(core.current, core.clock, core.ami, store)
    core.provide(SupervisionService, supervision)

    def on_event(event: Event) -> None:
        if isinstance(event, CallEvent):
            service.on_step(event, core.spawn)

    core.stream.subscribe("recording", on_event, (CallEvent,))

    async def disk_guard() -> None:
        while True:
            await asyncio.to_thread(service.check_disk)
            await asyncio.sleep(DISK_CHECK_S)

    async def retention() -> None:
        while True:
            await asyncio.to_thread(service.sweep)
            await asyncio.sleep(core.current().rules.recording.retention.check_s)

    async def audit_publisher() -> None:
        entries = await asyncio.to_thread(store.audit_entries, limit=1_000_000)
        last = entries[-1].id or 0 if entries else 0
        while True:
            await asyncio.sleep(AUDIT_POLL_S)
            for entry in await asyncio.to_thread(store.audit_entries, after_id=last):
                last = entry.id or last
                core.stream.publish(AuditRecorded(at=core.clock.now(), entry=entry.to_json()))
                log.info("audit: %s %s %s %s %s", entry.actor, entry.action, entry.subject,
                         entry.call_id, entry.outcome)

    return Feature(
        name="quality",
        agi_scripts={"supervise": supervision.handle_agi},
        ami=(AmiSubscription(frozenset({"Hangup", "UserEvent"}), queued=supervision.on_ami),),
        control_ops={op: supervision.handle for op in SupervisionService.OPERATIONS},
        tasks=(TaskSpec("recording-disk", disk_guard),
               TaskSpec("recording-retention", retention),
               TaskSpec("audit-publisher", audit_publisher)),
    )
