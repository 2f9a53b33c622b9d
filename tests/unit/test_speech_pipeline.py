"""The per-call pipeline with a fake recogniser: outcomes, budget, barge-in, latencies."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ivr.speech.asr import AsrResult, AsrStream
from ivr.speech.classify import Classification, classify
from ivr.speech.nb import load_ngram_model
from ivr.speech.pipeline import Outcome, PipelineConfig, preclassify
from ivr.speech.rules import EmergencyService, RequestType, load_rules
from ivr.speech.vad import SpeechStarted, VadConfig

RULES = load_rules(Path(__file__).resolve().parents[1] / "fixtures" / "speech" / "classification.yaml")
MODEL = load_ngram_model()
FRAME = 320
VOICE = b"\xe8\x03" * 160  # a constant 1000: about -30 dBFS, "speech" for the fake VAD
QUIET = bytes(FRAME)


def classifier(text: str) -> Classification:
    return classify(text, RULES, MODEL)


def fake_vad(frame: bytes) -> bool:
    return frame == VOICE


def audio(*parts: tuple[str, int]) -> list[bytes]:
    """("v", ms) voiced / ("s", ms) silent stretches as 20 ms frames."""
    frames: list[bytes] = []
    for kind, ms in parts:
        frames += [VOICE if kind == "v" else QUIET] * (ms // 20)
    return frames


async def feed(frames: list[bytes], stall_after: bool = False, pace_s: float = 0.0) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame
        await asyncio.sleep(pace_s)
    if stall_after:
        await asyncio.Event().wait()


class FakeDecoder:
    """Reveals ``text`` as partials in proportion to the audio it has been fed."""

    def __init__(self, text: str, *, fail: bool = False, delay_s: float = 0.0) -> None:
        self.text = text
        self.fail = fail
        self.delay_s = delay_s
        self.received = 0

    def accept(self, pcm: bytes) -> AsrResult | None:
        if self.fail:
            raise RuntimeError("decoder crashed")
        time.sleep(self.delay_s)
        self.received += len(pcm)
        shown = self.text[: min(len(self.text), self.received // 3200)]  # a character per 200 ms
        return AsrResult(shown, final=False) if shown else None

    def finish(self) -> AsrResult:
        return AsrResult(self.text, final=True, confidence=0.9)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="fake-asr") as executor:
        yield executor


def streams(pool: ThreadPoolExecutor, *texts: str, **kwargs: object) -> Callable[[], AsrStream]:
    queue = list(texts)

    def factory() -> AsrStream:
        text = queue.pop(0) if len(queue) > 1 else queue[0]
        return AsrStream(lambda: FakeDecoder(text, **kwargs), pool)  # type: ignore[arg-type]
    return factory


def config(**kwargs: object) -> PipelineConfig:
    vad = VadConfig(no_speech_timeout_ms=8000)
    return PipelineConfig(vad=vad, **kwargs)  # type: ignore[arg-type]


async def test_speech_is_classified_with_barge_in_and_latency(pool: ThreadPoolExecutor) -> None:
    barge_ins: list[SpeechStarted] = []
    partials: list[AsrResult] = []
    result = await preclassify(
        feed(audio(("s", 1000), ("v", 2000), ("s", 1500))), classifier,
        streams(pool, "我要投诉楼下饭店的油烟太大了"), config(),
        on_speech_started=barge_ins.append, on_partial=partials.append, vad_classifier=fake_vad)
    assert result.outcome is Outcome.CLASSIFIED
    assert result.classification.domain == "environment"
    assert result.classification.request_type is RequestType.COMPLAINT
    assert not result.classification.is_emergency
    assert result.transcript == "我要投诉楼下饭店的油烟太大了"
    assert result.speech_started_ms == 1000
    assert result.speech_ended_ms == 3000
    assert result.end_reason == "silence"
    assert [e.at_ms for e in barge_ins] == [1000]
    assert partials and all(not p.final for p in partials)
    assert result.latency_ms is not None and 0 <= result.latency_ms < 500
    assert result.asr_final_ms is not None and result.asr_final_ms <= result.latency_ms
    json.dumps(result.to_json(), ensure_ascii=False)


async def test_silence_is_no_speech(pool: ThreadPoolExecutor) -> None:
    result = await preclassify(feed(audio(("s", 10_000))), classifier, streams(pool, "x"), config(),
                               vad_classifier=fake_vad)
    assert result.outcome is Outcome.NO_SPEECH
    assert result.classification.domain == "general"
    assert result.utterances == 0


async def test_no_model_goes_to_the_general_queue_at_once() -> None:
    result = await preclassify(feed(audio(("v", 1000))), classifier, None, config())
    assert result.outcome is Outcome.ASR_UNAVAILABLE
    assert result.classification == Classification.fallback()


async def test_the_wall_clock_budget_ends_a_stalled_call(pool: ThreadPoolExecutor) -> None:
    cfg = PipelineConfig(budget_ms=300, decision_reserve_ms=100, vad=VadConfig(no_speech_timeout_ms=5000))
    start = time.perf_counter()
    result = await preclassify(feed(audio(("s", 100)), stall_after=True), classifier,
                               streams(pool, "x"), cfg, vad_classifier=fake_vad)
    assert result.outcome is Outcome.TIMEOUT
    assert time.perf_counter() - start < 1.0
    assert result.classification.domain == "general"


async def test_the_budget_cuts_a_caller_who_keeps_talking(pool: ThreadPoolExecutor) -> None:
    cfg = PipelineConfig(budget_ms=6000, decision_reserve_ms=1000,
                         vad=VadConfig(max_utterance_ms=20_000, no_speech_timeout_ms=5000))
    result = await preclassify(feed(audio(("s", 500), ("v", 9000))), classifier,
                               streams(pool, "我想咨询一下公积金怎么提取"), cfg, vad_classifier=fake_vad)
    assert result.outcome is Outcome.CLASSIFIED
    assert result.end_reason == "budget"
    assert result.speech_ended_ms == 5000
    assert result.classification.domain == "housing_fund"


async def test_an_empty_transcript_keeps_listening(pool: ThreadPoolExecutor) -> None:
    result = await preclassify(
        feed(audio(("s", 500), ("v", 400), ("s", 1000), ("v", 1500), ("s", 1000))), classifier,
        streams(pool, "", "我要举报有人卖假烟"), config(), vad_classifier=fake_vad)
    assert result.outcome is Outcome.CLASSIFIED
    assert result.utterances == 2
    assert result.classification.domain == "tobacco"
    assert result.classification.request_type is RequestType.REPORT


async def test_a_hangup_mid_sentence_still_classifies_what_was_said(pool: ThreadPoolExecutor) -> None:
    result = await preclassify(feed(audio(("s", 500), ("v", 1500))), classifier,
                               streams(pool, "我的快递丢了"), config(), vad_classifier=fake_vad)
    assert result.outcome is Outcome.HANGUP
    assert result.end_reason == "hangup"
    assert result.classification.domain == "postal"


async def test_a_hangup_before_speech(pool: ThreadPoolExecutor) -> None:
    result = await preclassify(feed(audio(("s", 500))), classifier, streams(pool, "x"), config(),
                               vad_classifier=fake_vad)
    assert result.outcome is Outcome.HANGUP
    assert result.classification.domain == "general"


async def test_a_crashing_recogniser_falls_back(pool: ThreadPoolExecutor) -> None:
    result = await preclassify(feed(audio(("s", 500), ("v", 1000), ("s", 1000))), classifier,
                               streams(pool, "x", fail=True), config(), vad_classifier=fake_vad)
    assert result.outcome is Outcome.ASR_FAILED
    assert result.error is not None and "decoder crashed" in result.error
    assert result.classification.domain == "general"


async def test_an_emergency_is_decided_on_a_partial(pool: ThreadPoolExecutor) -> None:
    frames = feed(audio(("s", 500), ("v", 5000), ("s", 1000)), pace_s=0.002)  # 10x real time
    result = await preclassify(frames, classifier, streams(pool, "着火了快来人啊楼下全是烟"), config(),
                               vad_classifier=fake_vad)
    assert result.outcome is Outcome.CLASSIFIED
    assert result.early
    assert result.speech_ended_ms is None  # decided while the caller was still speaking
    assert result.classification.emergency_service is EmergencyService.FIRE
    assert result.classification.emergency_number == "119"


async def test_a_slow_decoder_does_not_delay_endpointing(pool: ThreadPoolExecutor) -> None:
    result = await preclassify(feed(audio(("s", 500), ("v", 1000), ("s", 1000))), classifier,
                               streams(pool, "请问社保卡丢了怎么补办", delay_s=0.05), config(),
                               vad_classifier=fake_vad)
    assert result.outcome is Outcome.CLASSIFIED
    assert result.speech_ended_ms == 1500  # audio time: independent of decoding speed
    assert result.classification.domain == "social_security"


def test_the_budget_must_leave_room_to_decide() -> None:
    with pytest.raises(ValueError):
        PipelineConfig(budget_ms=1000, decision_reserve_ms=1000)
    with pytest.raises(ValueError):
        PipelineConfig(preroll_ms=100)


async def test_odd_chunk_sizes_are_cut_into_vad_frames(pool: ThreadPoolExecutor) -> None:
    pcm = b"".join(audio(("s", 1000), ("v", 1500), ("s", 1000)))
    chunks = [pcm[i:i + 480] for i in range(0, len(pcm), 480)]  # 30 ms pieces
    result = await preclassify(feed(chunks), classifier, streams(pool, "我的快递丢了"), config(),
                               vad_classifier=lambda frame: frame == VOICE)
    assert result.outcome is Outcome.CLASSIFIED
    assert result.speech_started_ms == 1000
    assert result.classification.domain == "postal"
