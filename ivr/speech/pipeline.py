"""Per-call pre-classification: VAD endpointing → VAD-gated ASR → classifier, in a time budget.

::

    result = await preclassify(session.audio(), classify_text, engine.open_stream,
                               PipelineConfig(), on_speech_started=lambda e: session.stop_audio())

From the first frame (call answer) the pipeline has ``budget_ms`` (15 s) to decide.
Frames go through the :class:`~ivr.speech.vad.Endpointer`; from the onset of speech
(with ``preroll_ms`` of audio before it) they are queued to the recogniser, which a
named task ``speech-asr`` drains off the event loop. When the utterance ends the final
transcript is classified. Every way out gives a :class:`PipelineResult` with a
classification (the general queue when there is nothing better) and its latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ivr.speech.asr import AsrResult, AsrStream
from ivr.speech.classify import Classification, Source
from ivr.speech.vad import (
    Endpointer,
    EndReason,
    FrameClassifier,
    NoSpeech,
    SpeechEnded,
    SpeechStarted,
    VadConfig,
)

log = logging.getLogger(__name__)

StreamFactory = Callable[[], AsrStream]
Classifier = Callable[[str], Classification]


@dataclass(frozen=True)
class PipelineConfig:
    """The per-call budget and how listening is cut into utterances."""

    budget_ms: int = 15_000  # call answer → routing decision (GB/T 33358-2016: answer in 15 s)
    decision_reserve_ms: int = 1_500  # stop listening this long before the budget ends
    preroll_ms: int = 500  # audio before the detected onset handed to ASR (≥ start_window_ms)
    retry_empty: bool = True  # an utterance with no transcript (a cough): keep listening
    early_emergency: bool = True  # decide on a partial transcript that reads as an emergency
    early_emergency_hold_ms: int = 400  # ... once partials have read so for this much audio
    vad: VadConfig = field(default_factory=lambda: VadConfig(no_speech_timeout_ms=8_000))

    def __post_init__(self) -> None:
        if not 0 <= self.decision_reserve_ms < self.budget_ms:
            raise ValueError("decision_reserve_ms must be within 0..budget_ms")
        if self.preroll_ms < self.vad.start_window_ms:
            raise ValueError("preroll_ms must cover vad.start_window_ms")


class Outcome(StrEnum):
    """How pre-classification ended."""

    CLASSIFIED = "classified"
    NO_SPEECH = "no_speech"  # nothing (usable) said in time
    TIMEOUT = "timeout"  # the wall-clock budget ran out first
    HANGUP = "hangup"  # the caller hung up (a classification of what was said, if anything)
    ASR_UNAVAILABLE = "asr_unavailable"  # no model: the general queue at once
    ASR_FAILED = "asr_failed"  # the recogniser raised


@dataclass(frozen=True)
class PipelineResult:
    """The decision and how long it took (``*_ms`` of audio are since the first frame)."""

    outcome: Outcome
    classification: Classification
    transcript: str = ""
    speech_started_ms: int | None = None
    speech_ended_ms: int | None = None
    end_reason: str | None = None
    early: bool = False  # decided on a partial transcript (emergency)
    utterances: int = 0
    decision_ms: float = 0.0  # wall clock, first frame → decision
    latency_ms: float | None = None  # wall clock, end of speech detected → decision (None if early)
    asr_final_ms: float | None = None  # wall clock, end of speech detected → final transcript
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (for the call record and the agent's screen-pop)."""
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 1)
        return {
            "outcome": self.outcome.value, "classification": self.classification.to_json(),
            "transcript": self.transcript, "speech_started_ms": self.speech_started_ms,
            "speech_ended_ms": self.speech_ended_ms, "end_reason": self.end_reason,
            "early": self.early, "utterances": self.utterances,
            "decision_ms": ms(self.decision_ms), "latency_ms": ms(self.latency_ms),
            "asr_final_ms": ms(self.asr_final_ms), "error": self.error,
        }


@dataclass(frozen=True)
class _AsrFailure:
    """The recogniser raised (returned, not raised, so the task group stays intact)."""

    message: str


@dataclass
class _Trace:
    """What one call has seen so far (lives only inside one :func:`preclassify`)."""

    start: float
    speech_started_ms: int | None = None
    speech_ended_ms: int | None = None
    end_reason: str | None = None
    utterances: int = 0
    transcript: str = ""
    ended_at: float | None = None
    final_at: float | None = None
    early: Classification | None = None
    # an emergency reading of partial results not yet held long enough: since (audio ms),
    # the reading and its text
    early_candidate: tuple[int, Classification, str] | None = None

    def hold_early(self, now_ms: int, hold_ms: int) -> None:
        """Decide early once the candidate reading has held for ``hold_ms`` of audio (checked
        on every frame: Vosk sends no new partial while the caller pauses)."""
        candidate = self.early_candidate
        if self.early is None and candidate is not None and now_ms - candidate[0] >= hold_ms:
            self.transcript, self.early = candidate[2], candidate[1]


async def _decode(stream: AsrStream, queue: asyncio.Queue[bytes | None],
                  on_result: Callable[[AsrResult], None]) -> AsrResult | _AsrFailure:
    """Feed queued frames to the recogniser in batches until ``None``; the final result."""
    while True:
        batch = [await queue.get()]
        while not queue.empty():
            batch.append(queue.get_nowait())
        done = None in batch
        pcm = b"".join(f for f in batch[: batch.index(None) if done else len(batch)] if f)
        try:
            if pcm:
                result = await stream.accept(pcm)
                if result is not None:
                    on_result(result)
            if done:
                return await stream.finish()
        except Exception as exc:  # Vosk raises plain Exception; the call must still route
            log.exception("speech recognition failed; the call goes to the general queue")
            return _AsrFailure(f"{type(exc).__name__}: {exc}")


async def _reframe(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Cut incoming audio into VAD frames of ``size`` bytes (AudioSocket gives 20 ms)."""
    pending = b""
    async for chunk in chunks:
        if len(chunk) == size and not pending:
            yield chunk
            continue
        pending += chunk
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]


async def preclassify(
    frames: AsyncIterator[bytes],
    classify: Classifier,
    streams: StreamFactory | None,
    config: PipelineConfig | None = None,
    *,
    on_speech_started: Callable[[SpeechStarted], None] | None = None,
    on_partial: Callable[[AsrResult], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    vad_classifier: FrameClassifier | None = None,
) -> PipelineResult:
    """Listen to one call from answer and decide where it goes (never raises for ASR trouble).

    ``streams`` opens a recogniser per utterance (``AsrEngine.open_stream``); None means no
    model, and the call goes to the general queue at once. ``on_speech_started`` is the
    barge-in hook: stop the prompt there.
    """
    config = config or PipelineConfig()
    trace = _Trace(start=clock())

    def finish(outcome: Outcome, classification: Classification | None = None,
               error: str | None = None) -> PipelineResult:
        now = clock()
        return PipelineResult(
            outcome=outcome,
            classification=classification or Classification.fallback(trace.transcript, Source.EMPTY),
            transcript=trace.transcript, speech_started_ms=trace.speech_started_ms,
            speech_ended_ms=trace.speech_ended_ms, end_reason=trace.end_reason,
            early=trace.early is not None, utterances=trace.utterances,
            decision_ms=(now - trace.start) * 1000,
            latency_ms=None if trace.ended_at is None else (now - trace.ended_at) * 1000,
            asr_final_ms=(None if trace.ended_at is None or trace.final_at is None
                          else (trace.final_at - trace.ended_at) * 1000),
            error=error,
        )

    if streams is None:
        return finish(Outcome.ASR_UNAVAILABLE)
    try:
        async with asyncio.timeout(config.budget_ms / 1000):
            return await _listen(frames, classify, streams, config, trace, finish,
                                 on_speech_started, on_partial, clock, vad_classifier)
    except TimeoutError:
        return finish(Outcome.TIMEOUT)


async def _listen(
    frames: AsyncIterator[bytes],
    classify: Classifier,
    streams: StreamFactory,
    config: PipelineConfig,
    trace: _Trace,
    finish: Callable[..., PipelineResult],
    on_speech_started: Callable[[SpeechStarted], None] | None,
    on_partial: Callable[[AsrResult], None] | None,
    clock: Callable[[], float],
    vad_classifier: FrameClassifier | None,
) -> PipelineResult:
    endpointer = Endpointer(config.vad, vad_classifier)
    preroll: deque[bytes] = deque(maxlen=max(1, config.preroll_ms // config.vad.frame_ms))
    listen_ms = config.budget_ms - config.decision_reserve_ms
    listen_until = trace.start + listen_ms / 1000

    def on_result(result: AsrResult) -> None:
        if on_partial is not None:
            on_partial(result)
        if config.early_emergency and trace.early is None and result.text:
            reading = classify(result.text)
            if not reading.is_emergency:
                trace.early_candidate = None  # a misheard word the decoder took back
                return
            candidate = trace.early_candidate
            if result.final:  # a segment Vosk has closed is not taken back: decide now
                trace.transcript, trace.early = result.text, reading
            elif candidate is None or candidate[1].emergency_number != reading.emergency_number:
                trace.early_candidate = (endpointer.now_ms, reading, result.text)
            else:
                trace.early_candidate = (candidate[0], reading, result.text)
            trace.hold_early(endpointer.now_ms, config.early_emergency_hold_ms)

    async with asyncio.TaskGroup() as group:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        decode: asyncio.Task[AsrResult | _AsrFailure] | None = None

        async def end_utterance(event: SpeechEnded) -> PipelineResult | None:
            nonlocal decode, queue
            assert decode is not None
            trace.speech_ended_ms, trace.end_reason = event.at_ms, event.reason.value
            trace.ended_at = clock()
            queue.put_nowait(None)
            final = await decode
            decode = None
            if isinstance(final, _AsrFailure):
                return finish(Outcome.ASR_FAILED, error=final.message)
            trace.final_at = clock()
            if trace.early is not None:
                return finish(Outcome.CLASSIFIED, trace.early)
            if final.text:
                trace.transcript = final.text
                return finish(Outcome.CLASSIFIED, classify(final.text))
            if not config.retry_empty:
                return finish(Outcome.NO_SPEECH)
            queue = asyncio.Queue()
            return None

        try:
            async for frame in _reframe(frames, config.vad.frame_bytes):
                events = endpointer.feed(frame)
                if endpointer.now_ms >= listen_ms or clock() >= listen_until:
                    events += endpointer.force_end(EndReason.BUDGET)
                for event in events:
                    if isinstance(event, SpeechStarted):
                        trace.utterances += 1
                        trace.speech_started_ms = event.at_ms
                        if on_speech_started is not None:
                            on_speech_started(event)
                        for earlier in preroll:
                            queue.put_nowait(earlier)
                        preroll.clear()
                        decode = group.create_task(_decode(streams(), queue, on_result),
                                                   name="speech-asr")
                    elif isinstance(event, SpeechEnded):
                        queue.put_nowait(frame)
                        done = await end_utterance(event)
                        if done is not None:
                            return done
                    elif isinstance(event, NoSpeech) and trace.utterances == 0:
                        return finish(Outcome.NO_SPEECH)
                if config.early_emergency:
                    trace.hold_early(endpointer.now_ms, config.early_emergency_hold_ms)
                if trace.early is not None:
                    return finish(Outcome.CLASSIFIED, trace.early)
                if endpointer.speaking:
                    queue.put_nowait(frame)
                elif not any(isinstance(e, SpeechEnded) for e in events):
                    preroll.append(frame)
                if endpointer.now_ms >= listen_ms or clock() >= listen_until:
                    return finish(Outcome.NO_SPEECH)
            if decode is not None:
                done = await end_utterance(SpeechEnded(endpointer.now_ms, EndReason.HANGUP,
                                                       trace.speech_started_ms or 0, endpointer.now_ms))
                if done is not None:
                    return replace(done, outcome=Outcome.HANGUP) if done.transcript else done
            return finish(Outcome.HANGUP)
        finally:
            if decode is not None:
                decode.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await decode
