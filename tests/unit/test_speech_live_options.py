"""Live-call listening options: the early-emergency hold, and the per-call prompt whose
length extends the no-speech timeout (``SpeechService.expect``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from ivr.speech.asr import AsrResult, AsrStream
from ivr.speech.classify import Classification, classify
from ivr.speech.nb import load_ngram_model
from ivr.speech.pipeline import Outcome, PipelineConfig, PipelineResult, preclassify
from ivr.speech.rules import load_rules
from ivr.speech.server import AudioSocketSession
from ivr.speech.service import ResultBoard, SpeechService, after_prompt
from ivr.speech.vad import VadConfig, split_frames
from speechkit.testaudio import silence

RULES = load_rules(Path(__file__).resolve().parents[1] / "fixtures" / "speech" / "classification.yaml")
MODEL = load_ngram_model()
VOICE = b"\xe8\x03" * 160  # a constant 1000: "speech" for the fake VAD
QUIET = bytes(320)
LEAD_MS = 500  # silence before the caller speaks

FIRE = "楼下着火了"  # reads as a fire emergency (119)
POLICE = "有人抢劫"  # reads as a police emergency (110)
CALM = "楼下"  # no emergency: what the decoder shows once it takes a misheard word back


def classifier(text: str) -> Classification:
    return classify(text, RULES, MODEL)


def fake_vad(frame: bytes) -> bool:
    return frame == VOICE


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="fake-asr") as executor:
        yield executor


# --- the early-emergency hold --------------------------------------------------------------

Script = list[tuple[int, str]]  # (from this many ms of the caller's voice on, the partial shows)


class ScriptedDecoder:
    """Partials by how much voiced audio it has heard: ``script`` says what it shows when."""

    def __init__(self, script: Script, final: str, seen: list[tuple[int, str]]) -> None:
        self.script = script
        self.final = final
        self.seen = seen
        self.voiced_samples = 0

    def accept(self, pcm: bytes) -> AsrResult | None:
        self.voiced_samples += int(np.count_nonzero(np.frombuffer(pcm, dtype="<i2")))
        voiced_ms = self.voiced_samples // 8
        text = ""
        for start, shown in self.script:
            if voiced_ms >= start:
                text = shown
        self.seen.append((voiced_ms, text))
        return AsrResult(text, final=False) if text else None

    def finish(self) -> AsrResult:
        return AsrResult(self.final, final=True, confidence=0.9)


@dataclass
class Caller:
    """``LEAD_MS`` of silence, ``voice_ms`` of speech, then silence; counts what was listened to."""

    voice_ms: int = 2000
    tail_ms: int = 1000
    consumed: int = 0

    async def frames(self) -> AsyncIterator[bytes]:
        frames = [QUIET] * (LEAD_MS // 20) + [VOICE] * (self.voice_ms // 20) + [QUIET] * (self.tail_ms // 20)
        for frame in frames:
            self.consumed += 1
            yield frame
            await asyncio.sleep(0.003)  # about 7x real time: the decoder keeps up

    @property
    def voice_heard_ms(self) -> int:
        """How much of the caller's speech had been streamed when the pipeline decided."""
        return max(0, self.consumed * 20 - LEAD_MS)


@dataclass
class Run:
    result: PipelineResult
    caller: Caller
    seen: list[tuple[int, str]] = field(default_factory=list)


async def run(pool: ThreadPoolExecutor, script: Script, *, hold_ms: int, final: str = CALM,
              early_emergency: bool = True) -> Run:
    seen: list[tuple[int, str]] = []
    caller = Caller()

    def streams() -> AsrStream:
        return AsrStream(lambda: ScriptedDecoder(script, final, seen), pool)

    config = PipelineConfig(early_emergency=early_emergency, early_emergency_hold_ms=hold_ms,
                            vad=VadConfig(no_speech_timeout_ms=8000))
    result = await preclassify(caller.frames(), classifier, streams, config, vad_classifier=fake_vad)
    return Run(result, caller, seen)


def windows(seen: list[tuple[int, str]]) -> list[str]:
    """The partials in the order shown, runs collapsed."""
    out: list[str] = []
    for _, text in seen:
        if text and (not out or out[-1] != text):
            out.append(text)
    return out


@pytest.mark.parametrize("hold_ms", [0, 400, 1000])
async def test_an_emergency_reading_must_hold_before_an_early_decision(
        pool: ThreadPoolExecutor, hold_ms: int) -> None:
    done = await run(pool, [(300, FIRE)], hold_ms=hold_ms)
    assert done.result.outcome is Outcome.CLASSIFIED
    assert done.result.early, "decided while the caller was still speaking"
    assert done.result.speech_ended_ms is None
    assert done.result.classification.emergency_number == "119"
    assert done.result.transcript == FIRE
    heard = done.caller.voice_heard_ms
    assert heard >= 300 + hold_ms, f"decided after {heard} ms of speech, before the hold"
    assert heard <= 300 + hold_ms + 500, f"decided only after {heard} ms of speech"


async def test_a_reading_shorter_than_the_hold_is_not_decided_early(pool: ThreadPoolExecutor) -> None:
    done = await run(pool, [(300, FIRE), (700, CALM)], hold_ms=800, final=CALM)
    assert windows(done.seen) == [FIRE, CALM]
    assert not done.result.early
    assert done.result.speech_ended_ms is not None, "the pipeline waited for the end of speech"
    assert not done.result.classification.is_emergency


async def test_a_partial_that_stops_reading_as_an_emergency_resets_the_hold(
        pool: ThreadPoolExecutor) -> None:
    # 400 ms + 400 ms of the same emergency, a 200 ms lapse between: never 600 ms in a row.
    script = [(300, FIRE), (700, CALM), (900, FIRE), (1300, CALM)]
    done = await run(pool, script, hold_ms=600, final=CALM)
    assert windows(done.seen) == [FIRE, CALM, FIRE, CALM], "the lapse must have been seen"
    assert not done.result.early
    assert not done.result.classification.is_emergency


async def test_the_same_script_without_the_lapse_is_decided_early(pool: ThreadPoolExecutor) -> None:
    done = await run(pool, [(300, FIRE), (1300, CALM)], hold_ms=600, final=CALM)
    assert done.result.early
    assert done.result.classification.emergency_number == "119"


async def test_a_different_emergency_restarts_the_hold(pool: ThreadPoolExecutor) -> None:
    # 300-800 ms fire, then 800-1300 ms police: each shorter than 800 ms, together longer.
    done = await run(pool, [(300, FIRE), (800, POLICE), (1300, CALM)], hold_ms=800, final=CALM)
    assert windows(done.seen) == [FIRE, POLICE, CALM]
    assert not done.result.early


async def test_early_decisions_off_waits_for_the_final_transcript(pool: ThreadPoolExecutor) -> None:
    done = await run(pool, [(300, FIRE)], hold_ms=0, final=FIRE, early_emergency=False)
    assert not done.result.early
    assert done.result.speech_ended_ms is not None
    assert done.result.classification.emergency_number == "119"
    assert done.caller.voice_heard_ms >= 2000


# --- the per-call prompt and the no-speech timeout -----------------------------------------

PROMPT_BYTE = b"\x11\x01"


def prompt_of(ms: int, sample: bytes = PROMPT_BYTE) -> bytes:
    return sample * (8 * ms)


@dataclass
class SilentCaller:
    """An AudioSocket leg on which the caller never speaks."""

    uuid: uuid.UUID = field(default_factory=uuid.uuid4)
    seconds: int = 20
    sent: list[bytes] = field(default_factory=list)
    frames_read: int = 0

    async def audio(self) -> AsyncIterator[bytes]:
        for frame in split_frames(silence(self.seconds * 1000), 320):
            self.frames_read += 1
            yield frame

    def send_audio(self, pcm: bytes) -> None:
        self.sent.append(pcm)

    def stop_audio(self) -> None:
        pass

    @property
    def listened_ms(self) -> int:
        return self.frames_read * 20


def no_decoder() -> AsrStream:
    raise AssertionError("nothing was said: no recogniser should be opened")


def speech_service(*, no_speech_ms: int = 2000, budget_ms: int = 15_000, reserve_ms: int = 1_500,
                   default_prompt: bytes = b"", keep: int = 1000) -> SpeechService:
    config = PipelineConfig(budget_ms=budget_ms, decision_reserve_ms=reserve_ms,
                            vad=VadConfig(no_speech_timeout_ms=no_speech_ms))
    return SpeechService(no_decoder, RULES, None, config, ResultBoard(), prompt=default_prompt,
                         keep=keep)


async def answer(service: SpeechService, caller: SilentCaller) -> PipelineResult:
    await service.handle(cast(AudioSocketSession, caller))
    result = service.board.get(caller.uuid)
    assert result is not None
    return result


async def test_without_a_per_call_prompt_the_timeout_counts_from_answer() -> None:
    default = prompt_of(1000, b"\x22\x02")
    service = speech_service(default_prompt=default)
    caller = SilentCaller()
    result = await answer(service, caller)
    assert result.outcome is Outcome.NO_SPEECH
    assert caller.listened_ms == 2000
    assert caller.sent == [default]


async def test_the_no_speech_timeout_counts_from_the_end_of_the_prompt() -> None:
    service = speech_service(default_prompt=prompt_of(1000, b"\x22\x02"))
    caller = SilentCaller()
    service.expect(caller.uuid, prompt_of(3000))
    result = await answer(service, caller)
    assert result.outcome is Outcome.NO_SPEECH
    assert caller.listened_ms == 3000 + 2000, "a caller who waits for the prompt gets the whole timeout"
    assert caller.sent == [prompt_of(3000)], "the call's own prompt replaces the default"


async def test_listening_during_the_prompt_keeps_the_plain_timeout() -> None:
    service = speech_service()
    caller = SilentCaller()
    service.expect(caller.uuid, prompt_of(3000), listen_after_prompt=False)
    result = await answer(service, caller)
    assert result.outcome is Outcome.NO_SPEECH
    assert caller.listened_ms == 2000
    assert caller.sent == [prompt_of(3000)]


async def test_a_long_prompt_is_capped_by_the_budget() -> None:
    service = speech_service(budget_ms=8000, reserve_ms=1500)
    caller = SilentCaller()
    service.expect(caller.uuid, prompt_of(6000))
    result = await answer(service, caller)
    assert result.outcome is Outcome.NO_SPEECH, "decided in time, not a timeout"
    assert caller.listened_ms == 8000 - 1500, "listening ends decision_reserve_ms before the budget"


async def test_an_expected_prompt_is_used_once() -> None:
    default = prompt_of(200, b"\x22\x02")
    service = speech_service(default_prompt=default)
    first = SilentCaller()
    service.expect(first.uuid, prompt_of(500))
    await answer(service, first)
    again = SilentCaller(uuid=first.uuid)
    await answer(service, again)
    assert (first.sent, again.sent) == ([prompt_of(500)], [default])
    assert again.listened_ms == 2000


async def test_only_the_latest_expectations_are_kept() -> None:
    default = prompt_of(200, b"\x22\x02")
    service = speech_service(default_prompt=default, keep=2)
    callers = [SilentCaller(seconds=3) for _ in range(3)]
    for caller in callers:
        service.expect(caller.uuid, prompt_of(400))
    for caller in callers:
        await answer(service, caller)
    assert [c.sent for c in callers] == [[default], [prompt_of(400)], [prompt_of(400)]]


@pytest.mark.parametrize(("prompt_ms", "no_speech_ms", "expected"), [
    (3000, 2000, 5000),  # from the end of the prompt
    (0, 2000, 2000),
    (12_000, 2000, 13_500),  # capped at budget - reserve (15000 - 1500)
    (3000, 13_600, 13_600),  # never shorter than configured, even past the cap
])
def test_after_prompt_timeout(prompt_ms: int, no_speech_ms: int, expected: int) -> None:
    config = PipelineConfig(vad=VadConfig(no_speech_timeout_ms=no_speech_ms))
    adjusted = after_prompt(config, prompt_ms)
    assert adjusted.vad.no_speech_timeout_ms == expected
    assert adjusted.budget_ms == config.budget_ms and adjusted.vad.start_ms == config.vad.start_ms



class QuietAfterDecoder(ScriptedDecoder):
    """Shows each partial once, then nothing while the words stay the same (as Vosk does
    after it has closed a segment); ``final_segment`` marks the first result final."""

    def __init__(self, script: Script, final: str, seen: list[tuple[int, str]],
                 final_segment: bool = False) -> None:
        super().__init__(script, final, seen)
        self.shown = ""
        self.final_segment = final_segment

    def accept(self, pcm: bytes) -> AsrResult | None:
        result = super().accept(pcm)
        if result is None or result.text == self.shown:
            return None
        self.shown = result.text
        return AsrResult(result.text, final=self.final_segment)


async def run_quiet(pool: ThreadPoolExecutor, script: Script, hold_ms: int,
                    final_segment: bool) -> Run:
    seen: list[tuple[int, str]] = []
    caller = Caller(voice_ms=3000)

    def streams() -> AsrStream:
        return AsrStream(lambda: QuietAfterDecoder(script, CALM, seen, final_segment), pool)

    config = PipelineConfig(early_emergency_hold_ms=hold_ms,
                            vad=VadConfig(no_speech_timeout_ms=8000))
    result = await preclassify(caller.frames(), classifier, streams, config, vad_classifier=fake_vad)
    return Run(result, caller, seen)


async def test_the_hold_runs_on_while_the_decoder_shows_nothing_new(
        pool: ThreadPoolExecutor) -> None:
    done = await run_quiet(pool, [(200, FIRE)], hold_ms=600, final_segment=False)
    assert done.result.early and done.result.classification.emergency_number == "119"
    # decided about 600 ms after the one partial, long before the caller stopped (3 s)
    assert 700 <= done.caller.voice_heard_ms < 2000


async def test_a_closed_segment_that_reads_as_an_emergency_decides_at_once(
        pool: ThreadPoolExecutor) -> None:
    done = await run_quiet(pool, [(200, FIRE)], hold_ms=2000, final_segment=True)
    assert done.result.early and done.result.classification.emergency_number == "119"
    assert done.caller.voice_heard_ms < 1000  # no 2 s hold for a final segment
