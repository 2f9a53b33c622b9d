"""VAD endpointing on synthetic audio: espeak-ng speech, digital silence, white noise."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from ivr.speech.vad import (
    Endpointer,
    EndReason,
    NoSpeech,
    SpeechEnded,
    SpeechStarted,
    VadConfig,
    VadEvent,
    level_dbfs,
    split_frames,
)
from speechkit.testaudio import mix, silence, speech, white_noise

SENTENCE = "我要投诉楼下饭店的油烟太大了"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech-audio")


@pytest.fixture(scope="module")
def spoken(cache: Path) -> bytes:
    return speech(SENTENCE, cache)


def run(pcm: bytes, config: VadConfig | None = None) -> list[VadEvent]:
    endpointer = Endpointer(config or VadConfig())
    events: list[VadEvent] = []
    for frame in split_frames(pcm, endpointer.config.frame_bytes):
        events.extend(endpointer.feed(frame))
    return events


def voiced_span_ms(pcm: bytes, floor_dbfs: float = -40.0) -> tuple[int, int]:
    """First and last 20 ms frame above ``floor_dbfs``: where the speech really is."""
    loud = [i for i, f in enumerate(split_frames(pcm, 320)) if level_dbfs(f) > floor_dbfs]
    return loud[0] * 20, (loud[-1] + 1) * 20


def only(events: Iterable[VadEvent], kind: type) -> list[VadEvent]:
    return [e for e in events if isinstance(e, kind)]


def test_silence_gives_no_speech_once_at_the_timeout() -> None:
    events = run(silence(9000), VadConfig(no_speech_timeout_ms=6000))
    assert events == [NoSpeech(at_ms=6000)]


@pytest.mark.parametrize("aggressiveness", [0, 1, 2, 3])
def test_line_noise_is_not_speech(aggressiveness: int) -> None:
    events = run(white_noise(5000, -45.0, seed=aggressiveness),
                 VadConfig(aggressiveness=aggressiveness, no_speech_timeout_ms=4000))
    assert events == [NoSpeech(at_ms=4000)]


def test_utterance_start_and_end_are_found(spoken: bytes) -> None:
    config = VadConfig()
    pcm = silence(1000) + spoken + silence(1500)
    first, last = voiced_span_ms(pcm)
    events = run(pcm, config)
    [started] = only(events, SpeechStarted)
    [ended] = only(events, SpeechEnded)
    assert isinstance(started, SpeechStarted) and isinstance(ended, SpeechEnded)
    assert abs(started.at_ms - first) <= 60
    assert started.detected_at_ms - started.at_ms <= config.start_window_ms  # barge-in delay
    assert ended.reason is EndReason.SILENCE
    assert abs(ended.at_ms - last) <= 200
    assert ended.detected_at_ms == ended.at_ms + config.end_silence_ms
    assert ended.started_ms == started.at_ms
    assert not only(events, NoSpeech)


def test_speech_over_background_noise(spoken: bytes) -> None:
    clean = silence(800) + spoken + silence(1200)
    noisy = mix(clean, white_noise(len(clean) // 16, -45.0, seed=7))
    events = run(noisy)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]


def test_max_utterance_length_cuts_a_long_monologue(spoken: bytes) -> None:
    config = VadConfig(max_utterance_ms=2000)
    events = run(silence(500) + spoken * 3 + silence(1000), config)
    ends = only(events, SpeechEnded)
    assert isinstance(ends[0], SpeechEnded)
    assert ends[0].reason is EndReason.MAX_LENGTH
    assert ends[0].at_ms - ends[0].started_ms == 2000


def test_the_endpointer_re_arms_for_the_next_utterance(spoken: bytes) -> None:
    events = run(silence(500) + spoken + silence(1500) + spoken + silence(1500))
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded, SpeechStarted, SpeechEnded]


def test_same_audio_same_events(spoken: bytes) -> None:
    pcm = silence(700) + spoken + silence(900)
    assert run(pcm) == run(pcm)


def scripted(pattern: str, config: VadConfig) -> list[VadEvent]:
    """Drive the state machine with a 1/0 voicing script, one character per frame."""
    flags = iter(pattern)
    endpointer = Endpointer(config, classifier=lambda frame: next(flags) == "1")
    frame = bytes(config.frame_bytes)
    events: list[VadEvent] = []
    for _ in pattern:
        events.extend(endpointer.feed(frame))
    return events


def test_state_machine_timing_is_exact() -> None:
    config = VadConfig(start_ms=60, start_window_ms=100, end_silence_ms=100, min_level_dbfs=None,
                       no_speech_timeout_ms=10_000)
    #              onset at frame 3 (60 ms); third voiced frame in the window at 120 ms
    events = scripted("000101100011111000001110" + "0" * 6, config)
    assert events[0] == SpeechStarted(at_ms=60, detected_at_ms=140)
    assert events[1] == SpeechEnded(at_ms=300, reason=EndReason.SILENCE, started_ms=60, detected_at_ms=400)
    assert events[2] == SpeechStarted(at_ms=400, detected_at_ms=460)
    assert events[3] == SpeechEnded(at_ms=460, reason=EndReason.SILENCE, started_ms=400, detected_at_ms=560)


def test_isolated_clicks_do_not_start_speech() -> None:
    config = VadConfig(min_level_dbfs=None, no_speech_timeout_ms=1000)
    events = scripted("1000000100000010000000" * 3, config)
    assert events == [NoSpeech(at_ms=1000)]


def test_force_end_for_the_budget() -> None:
    config = VadConfig(start_ms=40, start_window_ms=60, min_level_dbfs=None)
    flags = iter("1111111111")
    endpointer = Endpointer(config, classifier=lambda frame: next(flags) == "1")
    for _ in range(5):
        endpointer.feed(bytes(320))
    assert endpointer.speaking
    [ended] = endpointer.force_end(EndReason.BUDGET)
    assert isinstance(ended, SpeechEnded) and ended.reason is EndReason.BUDGET
    assert not endpointer.speaking
    assert endpointer.force_end() == []


def test_bad_frames_and_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="320 bytes"):
        Endpointer(VadConfig()).feed(bytes(100))
    for bad in ({"aggressiveness": 4}, {"frame_ms": 25}, {"sample_rate": 11025},
                {"start_ms": 500, "start_window_ms": 200}, {"end_silence_ms": 5}):
        with pytest.raises(ValueError):
            VadConfig(**bad)


def test_level_of_silence_and_full_scale() -> None:
    assert level_dbfs(silence(20)) == float("-inf")
    assert -1.0 < level_dbfs(b"\xff\x7f" * 160) <= 0.0
