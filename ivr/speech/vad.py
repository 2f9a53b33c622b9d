"""VAD endpointing: when the caller starts and stops speaking, as a pure state machine.

Feed fixed-size frames (10, 20 or 30 ms of 16-bit mono PCM); get events back, all
stamped in milliseconds of audio since the stream began, so the same audio always
gives the same events::

    endpointer = Endpointer(VadConfig())
    for event in endpointer.feed(frame):
        if isinstance(event, SpeechStarted):   # barge-in: stop the prompt now
            ...

:class:`SpeechStarted` is the barge-in signal: it fires ``start_ms`` of voiced audio
after the onset (its ``detected_at_ms``), and a caller playing a prompt stops it then.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import webrtcvad

_FRAME_MS = (10, 20, 30)
_RATES = (8000, 16000, 32000, 48000)

#: Says whether one frame holds speech (webrtcvad by default; tests may inject their own).
FrameClassifier = Callable[[bytes], bool]


@dataclass(frozen=True)
class VadConfig:
    """Endpointing knobs (milliseconds of audio)."""

    aggressiveness: int = 2  # webrtcvad 0 (keeps most audio as speech) .. 3 (strictest)
    sample_rate: int = 8000
    frame_ms: int = 20
    start_ms: int = 160  # voiced audio within start_window_ms that makes a start of speech
    start_window_ms: int = 240
    end_silence_ms: int = 700  # hangover: unvoiced audio that ends an utterance
    max_utterance_ms: int = 10_000
    no_speech_timeout_ms: int = 6_000  # from the start of the stream
    min_level_dbfs: float | None = -55.0  # frames quieter than this are never speech

    def __post_init__(self) -> None:
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError("aggressiveness must be 0..3")
        if self.frame_ms not in _FRAME_MS:
            raise ValueError(f"frame_ms must be one of {_FRAME_MS}")
        if self.sample_rate not in _RATES:
            raise ValueError(f"sample_rate must be one of {_RATES}")
        if not self.frame_ms <= self.start_ms <= self.start_window_ms:
            raise ValueError("need frame_ms <= start_ms <= start_window_ms")
        for name in ("end_silence_ms", "max_utterance_ms", "no_speech_timeout_ms"):
            if getattr(self, name) < self.frame_ms:
                raise ValueError(f"{name} must be at least one frame ({self.frame_ms} ms)")

    @property
    def frame_bytes(self) -> int:
        """Bytes in one frame of 16-bit mono audio."""
        return self.sample_rate * self.frame_ms // 1000 * 2


class EndReason(StrEnum):
    """Why an utterance ended (the endpointer itself gives the first two)."""

    SILENCE = "silence"
    MAX_LENGTH = "max_length"
    BUDGET = "budget"  # force_end(): the call's time budget ran out
    HANGUP = "hangup"  # the caller hung up mid-utterance


@dataclass(frozen=True)
class SpeechStarted:
    """The caller started speaking at ``at_ms`` (onset); known at ``detected_at_ms``."""

    at_ms: int
    detected_at_ms: int


@dataclass(frozen=True)
class SpeechEnded:
    """The utterance that began at ``started_ms`` ended at ``at_ms`` (last voiced audio)."""

    at_ms: int
    reason: EndReason
    started_ms: int
    detected_at_ms: int


@dataclass(frozen=True)
class NoSpeech:
    """Nothing was said within the no-speech timeout (fires once per stream)."""

    at_ms: int


VadEvent = SpeechStarted | SpeechEnded | NoSpeech


def level_dbfs(frame: bytes) -> float:
    """RMS level of 16-bit PCM in dB relative to full scale (-inf for digital silence)."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(samples * samples)))
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def webrtc_classifier(config: VadConfig) -> FrameClassifier:
    """A webrtcvad instance for ``config`` wrapped as a :data:`FrameClassifier`."""
    vad = webrtcvad.Vad(config.aggressiveness)
    rate = config.sample_rate

    def is_speech(frame: bytes) -> bool:
        return bool(vad.is_speech(frame, rate))

    return is_speech


def split_frames(pcm: bytes, frame_bytes: int) -> Iterator[bytes]:
    """Whole frames of ``pcm`` (a trailing partial frame is dropped)."""
    for start in range(0, len(pcm) - frame_bytes + 1, frame_bytes):
        yield pcm[start:start + frame_bytes]


class Endpointer:
    """Start/end of speech from a stream of frames; re-arms after each utterance."""

    def __init__(self, config: VadConfig, classifier: FrameClassifier | None = None) -> None:
        self.config = config
        self._classify = classifier or webrtc_classifier(config)
        self._window: deque[bool] = deque(maxlen=config.start_window_ms // config.frame_ms)
        self._start_frames = math.ceil(config.start_ms / config.frame_ms)
        self._end_frames = math.ceil(config.end_silence_ms / config.frame_ms)
        self._now_ms = 0
        self._started_ms: int | None = None
        self._last_voiced_end_ms = 0
        self._unvoiced_run = 0
        self._heard_speech = False
        self._no_speech_sent = False

    @property
    def now_ms(self) -> int:
        """Audio consumed so far, in milliseconds."""
        return self._now_ms

    @property
    def speaking(self) -> bool:
        """True between a :class:`SpeechStarted` and its :class:`SpeechEnded`."""
        return self._started_ms is not None

    def feed(self, frame: bytes) -> list[VadEvent]:
        """Consume one frame of ``config.frame_bytes`` bytes; return the events it causes."""
        if len(frame) != self.config.frame_bytes:
            raise ValueError(f"frame must be {self.config.frame_bytes} bytes, got {len(frame)}")
        voiced = self._voiced(frame)
        self._now_ms += self.config.frame_ms
        if self._started_ms is None:
            return self._listening(voiced)
        return self._speaking(voiced, self._started_ms)

    def force_end(self, reason: EndReason = EndReason.MAX_LENGTH) -> list[VadEvent]:
        """End the utterance in progress now (e.g. the time budget ran out)."""
        if self._started_ms is None:
            return []
        return [self._end(reason, self._started_ms)]

    def _voiced(self, frame: bytes) -> bool:
        floor = self.config.min_level_dbfs
        if floor is not None and level_dbfs(frame) < floor:
            return False
        return self._classify(frame)

    def _listening(self, voiced: bool) -> list[VadEvent]:
        self._window.append(voiced)
        if sum(self._window) >= self._start_frames:
            onset = self._now_ms - self.config.frame_ms * len(self._window)
            onset += self.config.frame_ms * self._window.index(True)
            self._started_ms = onset
            self._heard_speech = True
            self._unvoiced_run = 0
            self._last_voiced_end_ms = self._now_ms
            self._window.clear()
            return [SpeechStarted(at_ms=onset, detected_at_ms=self._now_ms)]
        if (not self._heard_speech and not self._no_speech_sent
                and self._now_ms >= self.config.no_speech_timeout_ms):
            self._no_speech_sent = True
            return [NoSpeech(at_ms=self._now_ms)]
        return []

    def _speaking(self, voiced: bool, started: int) -> list[VadEvent]:
        if voiced:
            self._unvoiced_run = 0
            self._last_voiced_end_ms = self._now_ms
        else:
            self._unvoiced_run += 1
        if self._unvoiced_run >= self._end_frames:
            return [self._end(EndReason.SILENCE, started)]
        if self._now_ms - started >= self.config.max_utterance_ms:
            return [self._end(EndReason.MAX_LENGTH, started)]
        return []

    def _end(self, reason: EndReason, started: int) -> SpeechEnded:
        at = self._now_ms if reason is EndReason.MAX_LENGTH else self._last_voiced_end_ms
        self._started_ms = None
        self._unvoiced_run = 0
        return SpeechEnded(at_ms=at, reason=reason, started_ms=started, detected_at_ms=self._now_ms)
