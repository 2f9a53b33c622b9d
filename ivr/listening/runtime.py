"""The speech engine the controller runs: the Vosk model (loaded once), the recogniser
pool, the classifier and the AudioSocket handler.

A missing or broken model is logged at start-up as an error naming the path, and the
runtime reports itself unavailable: calls then route on their dialled number alone
(the general queue for 12345) instead of listening. A configuration reload that changes
the model path, the grammar or the pool size loads the new engine in a thread and swaps
it in; calls already listening finish on the old one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ivr.speech.asr import AsrConfig, AsrEngine, ModelError, load_model, split_vocabulary
from ivr.speech.nb import ModelFileError, NgramModel, load_ngram_model
from ivr.speech.pipeline import PipelineResult, StreamFactory
from ivr.speech.rules import ClassificationRules
from ivr.speech.server import AudioSocketSession
from ivr.speech.service import SpeechService
from ivr.speech.settings import GrammarMode, ListeningRules

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineKey:
    """What a loaded engine was built from: a change means loading again."""

    model_path: Path
    grammar: tuple[str, ...]
    workers: int
    recognizer_rate: int


class SpeechRuntime:
    """Owns the recogniser and the :class:`SpeechService` of the current configuration."""

    def __init__(self, config_dir: Path) -> None:
        self._config_dir = config_dir
        self._engine: AsrEngine | None = None
        self._key: EngineKey | None = None
        self._service: SpeechService | None = None
        self._ngram: NgramModel | None = None
        self._ngram_loaded = False
        self._grammar: tuple[str, ...] = ()  # the usable keyword phrases of the loaded model
        self._users: dict[int, int] = {}  # id(engine) -> calls listening on it
        self._retiring: dict[int, AsrEngine] = {}  # replaced engines still in use
        self.error: str | None = None  # why listening is off (None: it is on)

    @property
    def available(self) -> bool:
        """True when calls can be pre-classified now."""
        return self._service is not None and self._service.streams is not None

    @property
    def service(self) -> SpeechService | None:
        """The current service (None before :meth:`configure`)."""
        return self._service

    def _classifier_model(self) -> NgramModel | None:
        if not self._ngram_loaded:
            self._ngram_loaded = True
            try:
                self._ngram = load_ngram_model()
            except ModelFileError as exc:
                log.error("speech: %s; classifying on keywords alone", exc)
        return self._ngram

    async def configure(self, listening: ListeningRules,
                        rules: ClassificationRules | None) -> None:
        """Build (or rebuild) the engine for this configuration; never raises for the model."""
        if not listening.enabled or rules is None:
            self.error = ("listening disabled in routing_rules.yaml" if not listening.enabled
                          else "routing_rules.yaml has no classification section")
            self._service = None
            await self._swap(None, None)
            log.info("speech pre-classification off: %s", self.error)
            return
        grammar = rules.all_phrases() if listening.grammar is GrammarMode.KEYWORDS else ()
        key = EngineKey(listening.resolved_model_path(self._config_dir), tuple(grammar),
                        listening.workers, listening.recognizer_rate)
        if key != self._key:
            engine = await asyncio.to_thread(self._load, key)
            await self._swap(engine, key if engine else None)
        streams: StreamFactory | None = None
        if self._engine is not None:
            streams = functools.partial(self._engine.open_stream, self._grammar)
        model = await asyncio.to_thread(self._classifier_model)
        self._service = SpeechService(streams, rules, model, listening.pipeline())

    def _load(self, key: EngineKey) -> AsrEngine | None:
        try:
            model = load_model(key.model_path)
        except ModelError as exc:
            self.error = f"speech model unusable, calls route without pre-classification: {exc}"
            log.error("%s (fetch it with tools/fetch_vosk_model, or set listening.model_path "
                      "or $HOTLINE_VOSK_MODEL)", self.error)
            return None
        self.error = None
        grammar: tuple[str, ...] = ()
        if key.grammar:
            usable, unknown = split_vocabulary(model, key.grammar)
            grammar = tuple(usable)
            if unknown:
                log.warning("speech: %d of %d keyword phrases use words the model at %s does not "
                            "know and are left out of the grammar (e.g. %s); write them as the "
                            "model segments them, space-separated", len(unknown),
                            len(key.grammar), key.model_path, ", ".join(unknown[:8]))
            if not usable:
                log.error("speech: no keyword phrase fits the model's vocabulary; decoding "
                          "free-form")
        log.info("speech model loaded from %s (%d worker(s), %s)", key.model_path, key.workers,
                 f"{len(grammar)} keyword phrases" if grammar else "free-form")
        self._grammar = grammar
        return AsrEngine(model, AsrConfig(model_path=key.model_path,
                                          recognizer_rate=key.recognizer_rate,
                                          workers=key.workers, grammar=grammar))

    async def _swap(self, engine: AsrEngine | None, key: EngineKey | None) -> None:
        """Make ``engine`` current; the old one closes once no call is listening on it."""
        old = self._engine
        self._engine, self._key = engine, key
        if old is not None and old is not engine:
            if self._users.get(id(old), 0):
                self._retiring[id(old)] = old
            else:
                await asyncio.to_thread(old.close)

    async def handle(self, session: AudioSocketSession, prompt: bytes) -> PipelineResult | None:
        """Pre-classify one AudioSocket call with the current service (and its engine, kept
        open until the call is done even if a reload replaces it meanwhile); None when
        listening is off (the leg is hung up at once)."""
        service, engine = self._service, self._engine
        if service is None:
            await session.hangup()
            return None
        if engine is not None:
            self._users[id(engine)] = self._users.get(id(engine), 0) + 1
        try:
            return await service.handle(session, prompt)
        finally:
            if engine is not None:
                left = self._users[id(engine)] - 1
                if left:
                    self._users[id(engine)] = left
                else:
                    del self._users[id(engine)]
                    retired = self._retiring.pop(id(engine), None)
                    if retired is not None:
                        await asyncio.to_thread(retired.close)

    def close(self) -> None:
        """Stop the recogniser pools (at shutdown: calls still listening fail over)."""
        for engine in [self._engine, *self._retiring.values()]:
            if engine is not None:
                engine.close()
        self._engine, self._key = None, None
        self._retiring.clear()

    def __enter__(self) -> SpeechRuntime:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
