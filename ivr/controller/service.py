"""``hotline run``: the controller's tasks under one TaskGroup."""

from __future__ import annotations

import asyncio
import logging
import signal

from ivr.agi.server import FastAgiServer
from ivr.ami.client import AmiConnection, sessions
from ivr.calls.events import CallEventAdapter
from ivr.calls.records import CallJournal
from ivr.calls.service import RoutingService
from ivr.clock import Clock, ShiftedClock, SystemClock
from ivr.config.holder import ConfigHolder
from ivr.controller.settings import ControllerSettings
from ivr.prompts.library import PromptLibrary

log = logging.getLogger(__name__)


class Controller:
    """Owns the FastAGI server, the AMI supervisor and the config watcher."""

    def __init__(self, settings: ControllerSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or (ShiftedClock(settings.start_at) if settings.start_at
                                      else SystemClock())
        self.config = ConfigHolder(settings.config_dir)
        self.journal = CallJournal(settings.journal_path)
        self.prompts = PromptLibrary(settings.recordings_dir)
        self.routing = RoutingService(lambda: self.config.current, self.clock, self.journal,
                                      self.prompts.sound_name)
        self.events = CallEventAdapter(self.journal, self.clock)
        self.ami: AmiConnection | None = None
        self._reload_requested = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled."""
        budget = self.settings_budget_s()
        async with FastAgiServer(self.routing.handle, self.settings.agi_host,
                                 self.settings.agi_port, timeout_s=budget) as agi:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._reload_requested.set)
            log.info("controller up: region %s, config %s, journal %s",
                     self.config.current.region, self.settings.config_dir,
                     self.settings.journal_path)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(agi.serve(), name="fastagi-server")
                    tasks.create_task(self._supervise_ami(), name="ami-supervisor")
                    tasks.create_task(self._watch_config(), name="config-watcher")
            finally:
                loop.remove_signal_handler(signal.SIGHUP)

    def settings_budget_s(self) -> float:
        """How long one routing decision may take before the call falls back."""
        return self.config.current.rules.timing.decision_budget_ms / 1000

    async def _supervise_ami(self) -> None:
        async for ami in sessions(self.settings.ami):
            self.ami = ami
            await self._resync(ami)
            async for event in ami.events():
                if event.event == "FullyBooted":
                    log.info("Asterisk fully booted")
                self.events.handle(event)
            self.ami = None

    async def _resync(self, ami: AmiConnection) -> None:
        """After (re)connecting: learn which calls are up so records stay whole."""
        channels = await ami.action_list("CoreShowChannels")
        log.info("AMI resync: %d channel(s) up", len(channels))

    async def _watch_config(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.settings.reload_poll_s):
                    await self._reload_requested.wait()
            except TimeoutError:
                if not self.config.changed_on_disk():
                    continue
            self._reload_requested.clear()
            self.config.reload()
