"""The listening feature: the AudioSocket leg that hears the caller, and FastAGI ``classify``
that routes again on what was said."""

from __future__ import annotations

import asyncio
import logging

from ivr.calls.feature import RouteExtras
from ivr.config.engine import EngineConfig
from ivr.core.features import Core, Feature
from ivr.core.supervisor import TaskSpec
from ivr.listening.prompts import PromptAudio
from ivr.listening.runtime import SpeechRuntime
from ivr.listening.service import ListeningService
from ivr.speech.server import AudioSocketServer, ServerConfig

log = logging.getLogger(__name__)

#: whether and where the AudioSocket server listens is fixed at start-up
RESTART_SETTINGS = (("listening", "enabled"), ("listening", "audiosocket"))


class Listening:
    """The speech runtime, the listening service and the AudioSocket server's state."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self.runtime = SpeechRuntime(core.config.current.directory)
        self.service = ListeningService(core.current, self.runtime, PromptAudio(core.prompts),
                                        core.steps, core.clock, core.prompts.sound_name)
        self.enabled_at_start = core.current().rules.listening.enabled
        self.socket_ok = True  # False while the AudioSocket port cannot be bound
        self._server: AudioSocketServer | None = None
        self._configured: tuple[object, object] | None = None

    async def configure(self, config: EngineConfig | None = None) -> None:
        """Load or swap the speech engines for the configuration in force (a reload that
        changed neither listening nor classification changes nothing here)."""
        rules = (config or self._core.current()).rules
        listening = rules.listening
        if not self.socket_ok or not self.enabled_at_start:
            listening = listening.model_copy(update={"enabled": False})
        wanted = (listening, rules.classification)
        if wanted == self._configured:
            return
        self._configured = wanted
        await self.runtime.configure(listening, rules.classification)

    async def start(self) -> None:
        """Before the first call: bind the AudioSocket port, load the model."""
        if self.enabled_at_start:
            await self._bind()
        await self.configure()

    async def _bind(self) -> AudioSocketServer | None:
        listening = self._core.current().rules.listening
        server = AudioSocketServer(self.service.handle_audio, listening.audiosocket.host,
                                   listening.audiosocket.port,
                                   ServerConfig(session_timeout_s=listening.listen_s + 2))
        try:
            await server.__aenter__()
        except OSError as exc:
            if self.socket_ok:
                log.error("AudioSocket server cannot listen on %s:%d (%s); calls route without "
                          "pre-classification", listening.audiosocket.host,
                          listening.audiosocket.port, exc)
                self.socket_ok = False
                await self.configure()
            return None
        if not self.socket_ok:
            log.info("AudioSocket server listening again; pre-classification back on")
            self.socket_ok = True
            await self.configure()
        self._server = server
        return server

    async def serve_audio(self) -> None:
        """Serve the AudioSocket port (retried under the supervisor while it cannot bind)."""
        if not self.enabled_at_start:
            return await _forever()
        server = self._server or await self._bind()
        if server is None:
            raise OSError("the AudioSocket port is still taken")
        try:
            await server.serve()
        finally:
            self._server = None
            await server.__aexit__(None, None, None)


async def _forever() -> None:
    await asyncio.Event().wait()


def register(core: Core) -> Feature:
    """Listening: plans at routing time, the AudioSocket leg, ``classify`` over FastAGI."""
    listening = Listening(core)
    core.need(RouteExtras).add("listening", listening.service.plan)
    return Feature(
        name="listening",
        agi_scripts={"classify": listening.service.handle_classify},
        tasks=(TaskSpec("speech-audiosocket", listening.serve_audio),),
        restart_settings=RESTART_SETTINGS,
        on_start=listening.start,
        on_reload=listening.configure,
        on_stop=listening.runtime.close,
    )
