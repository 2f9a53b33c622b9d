"""``hotline run``: the controller's tasks under one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from agent_pool.commands import AgentCommands
from agent_pool.feature_codes import FeatureCodeService
from agent_pool.tracker import AcdTracker
from ivr.agi.server import AgiSession, FastAgiServer
from ivr.ami.client import AmiConnection, sessions
from ivr.ami.codec import AmiMessage
from ivr.calls.callbacks import CallbackStore
from ivr.calls.events import CallEventAdapter
from ivr.calls.records import CallJournal
from ivr.calls.service import RoutingService
from ivr.clock import Clock, ShiftedClock, SystemClock
from ivr.config.holder import ConfigHolder
from ivr.control.server import ControlServer
from ivr.controller.settings import ControllerSettings
from ivr.listening.prompts import PromptAudio
from ivr.listening.runtime import SpeechRuntime
from ivr.listening.service import ListeningService
from ivr.prompts.library import PromptLibrary
from ivr.speech.server import AudioSocketServer, ServerConfig
from ivr.transfers.api import TransferApi, TransferFeatureCodes
from ivr.transfers.events import TransferEventAdapter
from ivr.transfers.registry import TransferRegistry
from ivr.transfers.service import TransferService
from ivr.workorders import SqliteWorkOrderStore

log = logging.getLogger(__name__)


class Controller:
    """Owns the FastAGI server, the AMI supervisor, the ACD view and the config watcher."""

    def __init__(self, settings: ControllerSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or (ShiftedClock(settings.start_at) if settings.start_at
                                      else SystemClock())
        self.config = ConfigHolder(settings.config_dir)
        self.journal = CallJournal(settings.journal_path)
        self.callbacks = CallbackStore(settings.run_dir / "callbacks.db")
        self.prompts = PromptLibrary(settings.recordings_dir)
        self.speech = SpeechRuntime(settings.config_dir)
        self.listening = ListeningService(lambda: self.config.current, self.speech,
                                          PromptAudio(self.prompts), self.journal, self.clock,
                                          self.prompts.sound_name)
        self.routing = RoutingService(lambda: self.config.current, self.clock, self.journal,
                                      self.prompts.sound_name, listen=self.listening.plan)
        self.events = CallEventAdapter(self.journal, self.clock, self.callbacks)
        self.acd = AcdTracker(lambda: self.config.current.roster,
                              lambda: self.config.current.rules.acd.wrapup_s,
                              target_s=self.config.current.rules.timing.answer_target_s)
        self.feature_codes = FeatureCodeService(self._agent_commands)
        self.workorders = SqliteWorkOrderStore(settings.run_dir / "workorders.db")
        registry = TransferRegistry()
        self.transfers = TransferService(lambda: self.ami, lambda: self.config.current, self.clock,
                                         self.journal, registry)
        self.transfer_events = TransferEventAdapter(registry, self.journal, self.clock,
                                                    self.workorders,
                                                    on_cancel_request=self._stop_ringing)
        self.transfer_api = TransferApi(self.transfers)
        self.transfer_codes = TransferFeatureCodes(self.transfers, self._spawn)
        self.ami: AmiConnection | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._reload_requested = asyncio.Event()
        self._audiosocket_ok = True  # False once the AudioSocket port could not be bound

    def _agent_commands(self) -> AgentCommands | None:
        if self.ami is None or self.ami.closed:
            return None
        config = self.config.current
        return AgentCommands(self.ami, config.roster, config.catalogue,
                             config.rules.acd.pause_reasons)

    async def _dispatch(self, session: AgiSession) -> None:
        script = session.env.script.strip("/")
        if script == "agent":
            await self.feature_codes.handle(session)
        elif script.startswith("xfer/"):
            await self.transfer_codes.handle(session)
        elif script == "classify":
            await self.listening.handle_classify(session)
        else:
            await self.routing.handle(session)

    async def run(self) -> None:
        """Run until cancelled."""
        budget = self.config.current.rules.timing.decision_budget_ms / 1000
        async with FastAgiServer(self._dispatch, self.settings.agi_host,
                                 self.settings.agi_port, timeout_s=budget) as agi:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._reload_requested.set)
            log.info("controller up: region %s, config %s, journal %s",
                     self.config.current.region, self.settings.config_dir,
                     self.settings.journal_path)
            try:
                await self._configure_speech()
                async with ControlServer(self.transfer_api.handle, self.settings.control_path) \
                        as control, self._audiosocket() as audiosocket, \
                        asyncio.TaskGroup() as tasks:
                    self._tasks = tasks
                    tasks.create_task(agi.serve(), name="fastagi-server")
                    if audiosocket is not None:
                        tasks.create_task(audiosocket.serve(), name="speech-audiosocket")
                    tasks.create_task(control.serve(), name="control-server")
                    tasks.create_task(self._supervise_ami(), name="ami-supervisor")
                    tasks.create_task(self._watch_config(), name="config-watcher")
                    tasks.create_task(self._publish_acd(), name="acd-snapshot")
            finally:
                self._tasks = None
                loop.remove_signal_handler(signal.SIGHUP)
                self.callbacks.close()
                self.workorders.close()
                self.speech.close()

    async def _configure_speech(self) -> None:
        rules = self.config.current.rules
        listening = rules.listening
        if not self._audiosocket_ok:
            listening = listening.model_copy(update={"enabled": False})
        await self.speech.configure(listening, rules.classification)

    @contextlib.asynccontextmanager
    async def _audiosocket(self) -> AsyncIterator[AudioSocketServer | None]:
        """The AudioSocket server when listening is on; a bind failure only turns listening off."""
        listening = self.config.current.rules.listening
        if not listening.enabled:
            yield None
            return
        server = AudioSocketServer(self.listening.handle_audio, listening.audiosocket.host,
                                   listening.audiosocket.port,
                                   ServerConfig(session_timeout_s=listening.listen_s + 2))
        try:
            await server.__aenter__()
        except OSError as exc:
            log.error("AudioSocket server cannot listen on %s:%d (%s); calls route without "
                      "pre-classification", listening.audiosocket.host,
                      listening.audiosocket.port, exc)
            self._audiosocket_ok = False
            await self._configure_speech()
            yield None
            return
        try:
            yield server
        finally:
            await server.__aexit__(None, None, None)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run short background work (a feature-code transfer) in the controller's TaskGroup."""

        async def guarded() -> None:
            try:
                await work
            except Exception:  # one request's failure must not stop the controller
                log.exception("background task %s failed", name)

        if self._tasks is None:
            work.close()
            return
        self._tasks.create_task(guarded(), name=name)

    async def _supervise_ami(self) -> None:
        async for ami in sessions(self.settings.ami):
            await self._resync(ami)
            self.ami = ami
            async for event in ami.events():
                if event.event == "FullyBooted":
                    log.info("Asterisk fully booted")
                self._feed(event)
            self.ami = None

    def _feed(self, event: AmiMessage) -> None:
        """Hand one AMI event to every adapter; one adapter's bug never stops the others."""
        now = self.clock.now()
        handlers: tuple[tuple[str, Callable[[], None]], ...] = (
            ("calls", lambda: self.events.handle(event)),
            ("transfers", lambda: self.transfer_events.handle(event)),
            ("acd", lambda: self.acd.handle(event, now)))
        for name, handle in handlers:
            try:
                handle()
            except Exception:
                log.exception("%s adapter failed on AMI event %s", name, event.event)

    def _stop_ringing(self, call_id: str) -> None:
        """The agent keyed * while the target rang: hang up the target leg (in the background)."""

        async def cancel() -> None:
            await self.transfers.cancel(call_id, agent_back=False)

        self._spawn(cancel(), f"xfer-cancel-{call_id}")

    async def _resync(self, ami: AmiConnection) -> None:
        """After (re)connecting: rebuild the ACD view from Asterisk's queues."""
        channels = await ami.action_list("CoreShowChannels")
        listing = await ami.action_list("QueueStatus")
        self.acd.resync(listing, self.clock.now())
        log.info("AMI resync: %d channel(s) up", len(channels))

    async def _publish_acd(self) -> None:
        """Every second: end wrap-ups and write the ACD snapshot for ``hotline queue status``."""
        path = self.settings.run_dir / "acd.json"
        while True:
            now = self.clock.now()
            self.acd.tick(now)
            snapshot = self.acd.snapshot(now)
            snapshot["controller_pid"] = os.getpid()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(snapshot, ensure_ascii=False, indent=1), encoding="utf-8")
            tmp.replace(path)
            await asyncio.sleep(1.0)

    async def _watch_config(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.settings.reload_poll_s):
                    await self._reload_requested.wait()
            except TimeoutError:
                if not self.config.changed_on_disk():
                    continue
            self._reload_requested.clear()
            if self.config.reload():
                await self._configure_speech()
