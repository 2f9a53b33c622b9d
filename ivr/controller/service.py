"""``hotline run``: the core's tasks, and every feature plugged into them.

The FastAGI listener runs on its own, outside the supervisor: whatever else fails,
Asterisk's route requests are answered (or refused fast enough for the dialplan's
fallback).  Everything else (the AMI session, the control API, the config watcher,
call-store expiry, each feature's tasks and AMI consumers) runs under the
:class:`~ivr.core.supervisor.Supervisor`, which restarts it after a failure.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Any

from ivr.agi.server import AgiSession, FastAgiServer
from ivr.ami.client import AmiConnection, sessions
from ivr.clock import Clock, ShiftedClock, SystemClock
from ivr.config.holder import ConfigHolder
from ivr.control.protocol import error, ok
from ivr.control.server import ControlServer
from ivr.controller.settings import ControllerSettings
from ivr.core.amibus import AmiBus
from ivr.core.callstore import CallStore
from ivr.core.events import CallEvent, EventStream
from ivr.core.features import Core, Feature, Register, Registry
from ivr.core.rundir import RunDir
from ivr.core.supervisor import Supervisor, TaskSpec
from ivr.prompts.library import PromptLibrary

log = logging.getLogger(__name__)

EXPIRY_INTERVAL_S = 3600.0


class Controller:
    """The composition of the core and a list of features; :meth:`run` until cancelled."""

    def __init__(self, settings: ControllerSettings, clock: Clock | None = None,
                 features: Sequence[Register] | None = None) -> None:
        from ivr.controller.app import FEATURES

        self.settings = settings
        self.clock: Clock = clock or (ShiftedClock(settings.start_at) if settings.start_at
                                      else SystemClock())
        self.features = tuple(features if features is not None else FEATURES)
        self.run_dir = RunDir(settings.run_dir)
        self.stream = EventStream()
        self.supervisor = Supervisor(self.stream)
        self.bus = AmiBus()
        self.registry = Registry()
        self.ami: AmiConnection | None = None
        self.config: ConfigHolder | None = None
        self.calls: CallStore | None = None
        self._reload_requested = asyncio.Event()

    async def run(self) -> None:
        """Load, register every feature, serve until cancelled."""
        self.run_dir.ensure()
        config = self.config = await asyncio.to_thread(ConfigHolder, self.settings.config_dir)
        calls = self.calls = CallStore(
            self.run_dir.calls_db, legacy_journal=self.run_dir.legacy_journal,
            retention_days=config.current.rules.records.retention_days)
        async with calls:
            self.stream.subscribe("call-store", calls.record, (CallEvent,))  # type: ignore[arg-type]
            core = Core(config=config, clock=self.clock, stream=self.stream, calls=calls,
                        run_dir=self.run_dir, prompts=PromptLibrary(self.settings.recordings_dir),
                        ami=lambda: self.ami, spawn=self.supervisor.spawn)
            for register in self.features:
                self.registry.add(register(core))
            config.startup_settings = self.registry.restart_settings
            try:
                await self._serve(config)
            finally:
                self._stop_features()

    async def _serve(self, config: ConfigHolder) -> None:
        for feature in self.registry.features:
            if feature.on_start is not None:
                try:
                    await feature.on_start()
                except Exception:
                    log.exception("%s failed to start; it stays off until a restart",
                                  feature.name)
        budget = config.current.rules.timing.decision_budget_ms / 1000
        async with FastAgiServer(self._dispatch, self.settings.agi_host, self.settings.agi_port,
                                 timeout_s=budget, allow=self.settings.agi_allow) as agi:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._reload_requested.set)
            log.info("controller up: region %s, config %s, call store %s, features %s",
                     config.current.region, self.settings.config_dir, self.run_dir.calls_db,
                     ", ".join(f.name for f in self.registry.features))
            try:
                async with self.supervisor as supervisor:
                    for spec in self._tasks():
                        supervisor.start(spec)
                    await agi.serve()
            finally:
                loop.remove_signal_handler(signal.SIGHUP)

    def _tasks(self) -> list[TaskSpec]:
        """Every supervised task: the core's, then each feature's and its AMI consumers."""
        specs = [TaskSpec("control-server", self._serve_control),
                 TaskSpec("config-watcher", self._watch_config),
                 TaskSpec("call-store-expiry", self._expire_records),
                 TaskSpec("ami-session", self._keep_ami)]
        for feature in self.registry.features:
            specs.extend(feature.tasks)
            specs.extend(self.bus.add(feature))
        return specs

    def _stop_features(self) -> None:
        for feature in reversed(self.registry.features):
            if feature.on_stop is not None:
                try:
                    feature.on_stop()
                except Exception:
                    log.exception("%s failed to stop cleanly", feature.name)

    async def _dispatch(self, session: AgiSession) -> None:
        handler = self.registry.agi_handler(session.env.script)
        if handler is None:
            log.warning("unknown AGI script %r; leaving the call to the fallback",
                        session.env.script)
            return
        await handler(session)

    async def _control(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == "engine.stats":
            return ok(self.stats())
        handler = self.registry.control.get(op)
        if handler is None:
            return error(f"unknown operation {op!r}")
        return await handler(op, args)

    def stats(self) -> dict[str, Any]:
        """Counters for operators and benchmarks (control op ``engine.stats``)."""
        return {
            "features": self.feature_names,
            "ami_events": self.bus.received,
            "ami_backlog": self.bus.backlog(),
            "events_published": self.stream.published,
            "call_store_dropped": self.calls.dropped if self.calls is not None else 0,
            "tasks": {name: {"running": h.running, "restarts": h.restarts,
                             "last_error": h.last_error}
                      for name, h in self.supervisor.health.items()},
            "pending_restart": list(self.config.pending_restart) if self.config else [],
        }

    async def _serve_control(self) -> None:
        async with ControlServer(self._control, self.run_dir.control_socket) as control:
            await control.serve()

    async def _keep_ami(self) -> None:
        """One AMI session after another; every feature resyncs on each new session."""
        async for ami in sessions(self.settings.ami):
            await self._resync(ami)
            self.ami = ami
            try:
                async for event in ami.events():
                    if event.event == "FullyBooted":
                        log.info("Asterisk fully booted")
                    self.bus.feed(event)
            finally:
                self.ami = None

    async def _resync(self, ami: AmiConnection) -> None:
        """After (re)connecting; a failure here is logged and the session still used."""
        try:
            channels = await ami.action_list("CoreShowChannels")
            log.info("AMI resync: %d channel(s) up", len(channels))
        except Exception as exc:  # noqa: BLE001 - a dropped session is retried, not fatal
            log.warning("AMI resync: channel listing failed (%s)", exc)
        for feature in self.registry.features:
            if feature.on_ami_session is None:
                continue
            try:
                await feature.on_ami_session(ami)
            except Exception:
                log.exception("%s: resync after AMI login failed", feature.name)

    async def _watch_config(self) -> None:
        assert self.config is not None
        config = self.config
        while True:
            try:
                async with asyncio.timeout(self.settings.reload_poll_s):
                    await self._reload_requested.wait()
            except TimeoutError:
                if not config.changed_on_disk():
                    continue
            self._reload_requested.clear()
            if await asyncio.to_thread(config.reload):
                await self._reloaded()

    async def _reloaded(self) -> None:
        assert self.config is not None
        for feature in self.registry.features:
            if feature.on_reload is None:
                continue
            try:
                await feature.on_reload(self.config.current)
            except Exception:
                log.exception("%s failed to apply the new configuration", feature.name)

    async def _expire_records(self) -> None:
        assert self.calls is not None and self.config is not None
        while True:
            self.calls.retention_days = self.config.current.rules.records.retention_days
            removed = await self.calls.expire(self.clock.now())
            if removed:
                log.info("call store: %d call(s) past retention deleted", removed)
            await asyncio.sleep(EXPIRY_INTERVAL_S)

    @property
    def feature_names(self) -> list[str]:
        """The registered features, in order."""
        return [f.name for f in self.registry.features]

    def feature(self, name: str) -> Feature | None:
        """A registered feature by name."""
        return next((f for f in self.registry.features if f.name == name), None)
