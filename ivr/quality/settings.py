"""Schema of the ``recording:`` section of ``routing_rules.yaml`` (docs/quality.md)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath

from pydantic import Field, field_validator

from ivr.catalogue.model import Identifier, Number
from ivr.config.validate import StrictModel


class RecordingFormat(StrEnum):
    """What MixMonitor writes (the file's extension is the format's name)."""

    WAV = "wav"  # 16-bit linear PCM, 8 kHz: 128 kbit/s, plays everywhere
    GSM = "gsm"  # GSM 06.10: 13 kbit/s, about 10x smaller (sox, Audacity, Asterisk play it)
    ULAW = "ulaw"  # raw G.711 mu-law: 64 kbit/s
    ALAW = "alaw"  # raw G.711 A-law: 64 kbit/s


#: bytes per second of audio and header bytes of each format (durations from file sizes)
FORMAT_RATES: dict[RecordingFormat, tuple[int, int]] = {
    RecordingFormat.WAV: (16000, 44),
    RecordingFormat.GSM: (1650, 0),
    RecordingFormat.ULAW: (8000, 0),
    RecordingFormat.ALAW: (8000, 0),
}


class Retention(StrictModel):
    """How long recordings are kept, per kind, in days."""

    conversations: int = Field(
        180, ge=1, le=36_500, description="recordings of calls that reached a person")
    listening: int = Field(
        30, ge=1, le=36_500, description="listening segments of pre-classified calls")
    check_s: int = Field(
        3600, ge=1, le=86_400, description="how often the retention task looks for expired files")


class Exclusions(StrictModel):
    """Calls that are never recorded (a confidential line, a skill)."""

    lines: list[Number] = []  # dialled numbers, e.g. "12338"
    skills: list[Identifier] = []  # the decision's skill, e.g. "legal_services"


class Disclosure(StrictModel):
    """The prompt telling callers they are recorded, where a region's rules require it."""

    regions: list[Identifier] = []  # deployment regions that play it (none by default)
    prompt: Identifier = "recording-notice"  # prompt id (recordings/prompts.yaml or custom/)


class RecordingRules(StrictModel):
    """Call recording with Asterisk's MixMonitor (docs/quality.md)."""

    enabled: bool = True
    store: str = Field(
        "/var/spool/hotline12345/recordings",
        description="absolute directory the recordings go to, the same path for Asterisk and "
                    "the controller (never the prompts folder)")
    format: RecordingFormat = RecordingFormat.GSM
    exclude: Exclusions = Exclusions()
    disclosure: Disclosure = Disclosure()
    retention: Retention = Retention()
    min_free_mb: int = Field(
        1024, ge=0, le=100_000_000,
        description="below this much free space in the store, new calls are not recorded")

    @field_validator("store")
    @classmethod
    def _store_path(cls, value: str) -> str:
        path = PurePosixPath(value)
        if not path.is_absolute() or ".." in path.parts:
            raise ValueError("the recordings store is an absolute path without '..'")
        if any(ch in value for ch in ",|$\"'()[]{}\\ \t\n;&"):
            raise ValueError("the recordings store path may not hold spaces, quotes, ',', '|', "
                             "'$', brackets or ';' (it goes into a MixMonitor argument)")
        if "recordings/generated" in value or "recordings/custom" in value \
                or path.name in ("generated", "custom") or "/sounds" in value:
            raise ValueError("the recordings store must not be the prompts folder or a sounds "
                             "directory Asterisk plays from")
        return str(path)
