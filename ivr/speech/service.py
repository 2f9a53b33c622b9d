"""Wiring for live calls: an AudioSocket handler that pre-classifies and posts the result.

::

    board = ResultBoard()
    speech = SpeechService(engine.open_stream, rules, model, PipelineConfig(), board)
    async with AudioSocketServer(speech.handle, "127.0.0.1", 9092) as server:
        await server.serve()
    ...
    result = await board.wait(call_uuid, timeout_s=1.0)   # from the routing side

The handler plays an optional prompt, stops it when the caller starts speaking
(barge-in), posts the :class:`PipelineResult` under the channel's AudioSocket UUID and
hangs up the AudioSocket leg so the dialplan carries on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from ivr.speech.classify import Classification, classify
from ivr.speech.nb import NgramModel
from ivr.speech.pipeline import PipelineConfig, PipelineResult, StreamFactory, preclassify
from ivr.speech.rules import ClassificationRules
from ivr.speech.server import AudioSocketSession
from ivr.speech.vad import SpeechStarted


def after_prompt(config: PipelineConfig, prompt_ms: int) -> PipelineConfig:
    """``config`` with the no-speech timeout counted from the end of a ``prompt_ms`` prompt
    (a caller who waits for the prompt to finish still gets the whole timeout), within the
    listening time the budget leaves."""
    latest = config.budget_ms - config.decision_reserve_ms
    timeout = max(min(prompt_ms + config.vad.no_speech_timeout_ms, latest),
                  config.vad.no_speech_timeout_ms)
    return replace(config, vad=replace(config.vad, no_speech_timeout_ms=timeout))


class ResultBoard:
    """Results by call UUID, kept for the last ``keep`` calls; waiters are woken on post."""

    def __init__(self, keep: int = 1000) -> None:
        self._keep = keep
        self._results: OrderedDict[uuid.UUID, PipelineResult] = OrderedDict()
        self._waiters: dict[uuid.UUID, list[asyncio.Future[PipelineResult]]] = {}

    def post(self, call_id: uuid.UUID, result: PipelineResult) -> None:
        """Record a call's result and wake whoever waits for it."""
        self._results[call_id] = result
        self._results.move_to_end(call_id)
        while len(self._results) > self._keep:
            self._results.popitem(last=False)
        for waiter in self._waiters.pop(call_id, []):
            if not waiter.done():
                waiter.set_result(result)

    def get(self, call_id: uuid.UUID) -> PipelineResult | None:
        """The result if it is already there."""
        return self._results.get(call_id)

    async def wait(self, call_id: uuid.UUID, timeout_s: float) -> PipelineResult | None:
        """The result, waiting up to ``timeout_s``; None if it does not come in time."""
        if call_id in self._results:
            return self._results[call_id]
        waiter: asyncio.Future[PipelineResult] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(call_id, []).append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                return await waiter
        except TimeoutError:
            return None
        finally:
            waiters = self._waiters.get(call_id)
            if waiters and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[call_id]


@dataclass
class SpeechService:
    """Everything a live call's pre-classification needs.

    ``streams`` opens a recogniser per utterance, e.g. ``engine.open_stream`` or
    ``functools.partial(engine.open_stream, grammar)``; None (no model) sends every
    call to the general queue at once.
    """

    streams: StreamFactory | None
    rules: ClassificationRules
    model: NgramModel | None
    config: PipelineConfig
    board: ResultBoard | None = None  # where results are posted (None: the caller takes them)
    prompt: bytes = b""  # 8 kHz 16-bit mono audio played while listening (barge-in stops it)
    keep: int = 1000  # per-call prompts remembered for calls not yet connected
    _expected: OrderedDict[uuid.UUID, tuple[bytes, PipelineConfig]] = field(
        default_factory=OrderedDict, init=False, repr=False)

    def expect(self, call_id: uuid.UUID, prompt: bytes, listen_after_prompt: bool = True) -> None:
        """Play ``prompt`` (instead of the default) to the AudioSocket call ``call_id``.

        With ``listen_after_prompt`` the no-speech timeout counts from the end of the prompt
        (a caller who waits for it to finish still gets the whole timeout), within the budget.
        """
        config = self.config
        if listen_after_prompt and prompt:
            config = after_prompt(config, len(prompt) * 1000 // (2 * 8000))
        self._expected[call_id] = (prompt, config)
        while len(self._expected) > self.keep:
            self._expected.popitem(last=False)

    def classify(self, text: str) -> Classification:
        """The configured classifier."""
        return classify(text, self.rules, self.model)

    async def handle(self, session: AudioSocketSession,
                     prompt: bytes | None = None) -> PipelineResult:
        """AudioSocket handler: play ``prompt`` (else the one :meth:`expect` named, else the
        default), listen, classify, post to the board if any, hang up the AudioSocket leg;
        returns the result."""
        if prompt is not None:
            config = after_prompt(self.config, len(prompt) * 1000 // (2 * 8000)) if prompt \
                else self.config
        else:
            prompt, config = self._expected.pop(session.uuid, (self.prompt, self.config))
        if prompt:
            session.send_audio(prompt)

        def barge_in(_: SpeechStarted) -> None:
            session.stop_audio()

        result = await preclassify(session.audio(), self.classify, self.streams, config,
                                   on_speech_started=barge_in)
        if self.board is not None:
            self.board.post(session.uuid, result)
        session.stop_audio()
        return result
