"""The ACD feature: agents' feature codes, the live view of queues and agents, its snapshot."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from agent_pool.commands import AgentCommands
from agent_pool.feature_codes import FeatureCodeService
from agent_pool.state import AgentState, AgentStatus
from agent_pool.tracker import AcdTracker
from ivr.ami.client import AmiConnection
from ivr.core.events import AgentStateChanged
from ivr.core.features import AmiSubscription, Core, Feature
from ivr.core.rundir import write_private
from ivr.core.supervisor import TaskSpec

#: the service-level target the metrics count against is fixed when the tracker is built
RESTART_SETTINGS = (("timing", "answer_target_s"),)


def _write_snapshot(path: Path, snapshot: dict[str, Any]) -> None:
    data = json.dumps(snapshot, ensure_ascii=False, indent=1).encode("utf-8")
    with write_private(path) as fd:  # 0600 from creation, never through a planted link
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def register(core: Core) -> Feature:
    """The ACD: ``agent`` feature codes, queue/agent events, ``acd-snapshot`` every second."""
    config = core.current

    def changed(status: AgentStatus, previous: AgentState) -> None:
        core.stream.publish(AgentStateChanged(
            at=core.clock.now(), agent_id=status.agent_id, state=status.state.value,
            previous=previous.value, reason=status.pause_reason or None))

    tracker = AcdTracker(lambda: config().roster, lambda: config().rules.acd.wrapup_s,
                         target_s=config().rules.timing.answer_target_s, on_change=changed)

    def commands() -> AgentCommands | None:
        ami = core.ami()
        if ami is None or ami.closed:
            return None
        now = config()
        return AgentCommands(ami, now.roster, now.catalogue, now.rules.acd.pause_reasons)

    codes = FeatureCodeService(commands, core.ami)

    async def resync(ami: AmiConnection) -> None:
        """After (re)connecting: rebuild the ACD view from Asterisk's queues."""
        listing = await ami.action_list("QueueStatus")
        tracker.resync(listing, core.clock.now())

    async def publish_snapshot() -> None:
        """Every second: end wrap-ups and write the snapshot ``hotline queue status`` reads."""
        path = core.run_dir.acd_snapshot
        while True:
            now = core.clock.now()
            tracker.tick(now)
            snapshot = tracker.snapshot(now)
            snapshot["controller_pid"] = os.getpid()
            await asyncio.to_thread(_write_snapshot, path, snapshot)
            await asyncio.sleep(1.0)

    core.provide(AcdTracker, tracker)
    return Feature(
        name="acd",
        agi_scripts={"agent": codes.handle},
        ami=(AmiSubscription(AcdTracker.EVENTS,
                             inline=lambda event: tracker.handle(event, core.clock.now())),),
        tasks=(TaskSpec("acd-snapshot", publish_snapshot),),
        restart_settings=RESTART_SETTINGS,
        on_ami_session=resync,
    )
