"""Schema of the ``listening:`` section of ``routing_rules.yaml``: live pre-classification.

After the greeting the caller says what the call is about; Asterisk streams the call's
audio to the controller over AudioSocket and the engine routes on what it heard. This
section says which calls listen, for how long, where the AudioSocket server listens,
which Vosk model decodes and how the VAD cuts utterances. Turning it off (or a missing
model) routes every call on its dialled number alone, as before.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field, model_validator

from ivr.config.validate import StrictModel
from ivr.core.environ import VOSK_MODEL_ENV, vosk_model_override

if TYPE_CHECKING:  # the schema loads without Vosk or webrtcvad (hotline check, route)
    from ivr.speech.pipeline import PipelineConfig
    from ivr.speech.vad import VadConfig

MODEL_PATH_ENV = VOSK_MODEL_ENV


class ListenOn(StrEnum):
    """Which dialled lines listen (the others already say what the call is about)."""

    MAIN = "main"  # 12345 itself
    UNKNOWN = "unknown"  # a number the catalogue does not know
    DIVERTED_EMERGENCY = "diverted_emergency"  # 110/119/120/122 calls diverted to 12345


class GrammarMode(StrEnum):
    """How Vosk decodes."""

    FREE = "free"  # the model's whole vocabulary
    KEYWORDS = "keywords"  # keyword spotting on the classification phrases (~20x cheaper)


class EmergencyAction(StrEnum):
    """What a confident emergency classification does."""

    DIAL = "dial"  # straight to the service's trunk (backup trunk next), 12345 behind it
    QUEUE = "queue"  # the general queue at the diverted-emergency priority


class VadSettings(StrictModel):
    """webrtcvad endpointing (milliseconds of audio)."""

    aggressiveness: int = Field(2, ge=0, le=3)
    start_ms: int = Field(160, ge=20, le=1000)  # voiced audio that starts an utterance ...
    start_window_ms: int = Field(240, ge=20, le=2000)  # ... within this window
    end_silence_ms: int = Field(700, ge=100, le=5000)  # hangover that ends it
    max_utterance_ms: int = Field(10_000, ge=1000, le=60_000)
    no_speech_timeout_ms: int = Field(8_000, ge=1000, le=60_000)  # from the start of listening
    min_level_dbfs: float | None = Field(-55.0, ge=-96, le=0)

    @model_validator(mode="after")
    def _window_holds_start(self) -> VadSettings:
        if self.start_ms > self.start_window_ms:
            raise ValueError("start_ms must not exceed start_window_ms")
        return self

    def config(self) -> VadConfig:
        """The endpointer's configuration."""
        from ivr.speech.vad import VadConfig

        return VadConfig(aggressiveness=self.aggressiveness, start_ms=self.start_ms,
                         start_window_ms=self.start_window_ms,
                         end_silence_ms=self.end_silence_ms,
                         max_utterance_ms=self.max_utterance_ms,
                         no_speech_timeout_ms=self.no_speech_timeout_ms,
                         min_level_dbfs=self.min_level_dbfs)


class AudioSocketSettings(StrictModel):
    """Where the controller's AudioSocket server listens (Asterisk connects to it)."""

    host: str = "127.0.0.1"
    port: int = Field(9092, ge=1, le=65535)


_PROMPT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _prompt_id(value: str) -> str:
    """A prompt id names a file below the recordings: no path separators or ``..``."""
    if not _PROMPT_ID.fullmatch(value):
        raise ValueError("a prompt id is lower-case letters, digits, '_' and '-' (no '/', "
                         "'..' or spaces: it names a recording, never a path)")
    return value


PromptId = Annotated[str, AfterValidator(_prompt_id)]


class ListeningRules(StrictModel):
    """The whole ``listening:`` section."""

    enabled: bool = True
    lines: list[ListenOn] = Field(default_factory=lambda: [ListenOn.MAIN, ListenOn.UNKNOWN])
    # The Vosk model directory; $HOTLINE_VOSK_MODEL wins; ~ is expanded; a relative
    # path is relative to the configuration directory.
    model_path: str = "~/.cache/hotline12345/models/vosk-model-small-cn-0.22"
    grammar: GrammarMode = GrammarMode.FREE
    workers: int = Field(2, ge=1, le=64)  # decoding threads
    recognizer_rate: int = Field(8000, ge=8000, le=48000)  # 16000: resample in numpy first
    audiosocket: AudioSocketSettings = AudioSocketSettings()
    prompt: PromptId | None = "listen"  # played after the line's prompts; barge-in stops both
    budget_ms: int = Field(15_000, ge=3000, le=30_000)  # answer -> routing decision
    decision_reserve_ms: int = Field(1_500, ge=0, le=10_000)  # stop listening this early
    preroll_ms: int = Field(500, ge=0, le=2000)
    early_emergency: bool = True  # decide on a partial transcript that reads as an emergency
    early_emergency_hold_ms: int = Field(400, ge=0, le=5000)  # ... for this much audio
    emergency_action: EmergencyAction = EmergencyAction.DIAL
    vad: VadSettings = VadSettings()

    @model_validator(mode="after")
    def _consistent(self) -> ListeningRules:
        if self.decision_reserve_ms >= self.budget_ms:
            raise ValueError("decision_reserve_ms must be less than budget_ms")
        if self.preroll_ms < self.vad.start_window_ms:
            raise ValueError("preroll_ms must cover vad.start_window_ms")
        if self.recognizer_rate % 8000:
            raise ValueError("recognizer_rate must be a multiple of 8000")
        return self

    def resolved_model_path(self, config_dir: Path) -> Path:
        """The model directory: ``$HOTLINE_VOSK_MODEL``, else ``model_path``."""
        raw = vosk_model_override() or self.model_path
        path = Path(raw).expanduser()
        return path if path.is_absolute() else config_dir / path

    def pipeline(self) -> PipelineConfig:
        """The per-call pipeline configuration."""
        from ivr.speech.pipeline import PipelineConfig

        return PipelineConfig(budget_ms=self.budget_ms,
                              decision_reserve_ms=self.decision_reserve_ms,
                              preroll_ms=self.preroll_ms, early_emergency=self.early_emergency,
                              early_emergency_hold_ms=self.early_emergency_hold_ms,
                              vad=self.vad.config())

    @property
    def listen_s(self) -> int:
        """The longest the AudioSocket leg may stay up (the budget plus a margin)."""
        return self.budget_ms // 1000 + 3
