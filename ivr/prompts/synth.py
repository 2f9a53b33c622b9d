"""Placeholder speech: tone-numbered pinyin → 8 kHz 16-bit mono PCM WAV.

espeak-ng's ``cmn-latn-pinyin`` voice speaks the pinyin; sox resamples to what
Asterisk's ``format_wav`` plays (8000 Hz, mono, signed 16-bit), normalises the peak
level and pads silence. Robotic but intelligible: a stand-in for studio recordings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ivr.prompts.spoken import to_spoken

#: Bump when the pipeline changes in a way that changes the audio (regenerates all).
PIPELINE_VERSION = 1

SAMPLE_RATE = 8000
_TIMEOUT_S = 60

_INSTALL_HINT = {
    "espeak-ng": "install it (Debian/Ubuntu: apt-get install espeak-ng)",
    "sox": "install it (Debian/Ubuntu: apt-get install sox)",
}


class SynthError(RuntimeError):
    """Speech synthesis failed."""


class ToolMissingError(SynthError):
    """espeak-ng or sox is not installed."""


@dataclass(frozen=True)
class Voice:
    """Settings of the placeholder voice; all of them go into the content hash."""

    name: str = "cmn-latn-pinyin"
    speed: int = 175  # espeak-ng words per minute: roughly syllables per minute here
    pitch: int = 50  # espeak-ng 0-99
    gain_db: float = -3.0  # peak level after normalising, dBFS
    lead_ms: int = 100  # silence before the speech
    tail_ms: int = 0  # extra silence after it (espeak-ng already ends with ~0.4 s)


def content_hash(spoken: str, voice: Voice) -> str:
    """Hash of everything that determines the audio: pipeline, voice and spoken pinyin."""
    blob = json.dumps(
        {"pipeline": PIPELINE_VERSION, "voice": asdict(voice), "spoken": spoken},
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def find_tools() -> tuple[str, str]:
    """Return the paths of espeak-ng and sox; raise :class:`ToolMissingError` naming the fix."""
    found: list[str] = []
    for tool in ("espeak-ng", "sox"):
        path = shutil.which(tool)
        if path is None:
            raise ToolMissingError(f"{tool} not found on PATH: {_INSTALL_HINT[tool]}")
        found.append(path)
    return found[0], found[1]


def _run(argv: list[str]) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SynthError(f"{Path(argv[0]).name} timed out after {_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
        raise SynthError(f"{Path(argv[0]).name} failed: {detail}")


def synthesize_spoken(spoken: str, out: Path, voice: Voice | None = None) -> float:
    """Speak ``spoken`` (pinyin from :func:`to_spoken`) into ``out``; return its seconds.

    The file is written next to ``out`` and renamed into place, so a reader never sees
    a half-written prompt.
    """
    voice = voice or Voice()
    if not spoken.strip():
        raise SynthError("nothing to say: the text has no speakable content")
    espeak, sox = find_tools()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".synth-", dir=out.parent) as tmp:
        raw = Path(tmp) / "raw.wav"
        final = Path(tmp) / "final.wav"
        _run([espeak, "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch),
              "-w", str(raw), "--", spoken])
        _run([sox, "-V1", "-D", str(raw),
              "-t", "wav", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
              str(final),
              "rate", "-h", str(SAMPLE_RATE), "gain", "-n", f"{voice.gain_db:g}",
              "pad", f"{voice.lead_ms / 1000:g}", f"{voice.tail_ms / 1000:g}"])
        seconds = wav_seconds(final)
        if seconds <= (voice.lead_ms + voice.tail_ms) / 1000:
            raise SynthError(f"espeak-ng produced no audio for {spoken!r}")
        os.replace(final, out)
    return seconds


def synthesize(
    text: str,
    out: Path,
    voice: Voice | None = None,
    pronunciations: Mapping[str, str] | None = None,
) -> float:
    """Speak Mandarin ``text`` into the WAV file ``out``; return its duration in seconds."""
    return synthesize_spoken(to_spoken(text, pronunciations), out, voice)


@dataclass(frozen=True)
class WavFormat:
    """The format fields of a WAV file that Asterisk cares about."""

    rate: int
    channels: int
    sample_bytes: int
    frames: int

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / self.rate if self.rate else 0.0

    @property
    def asterisk_ok(self) -> bool:
        """True when Asterisk's ``format_wav`` plays it (8 kHz, mono, 16-bit PCM)."""
        return (self.rate, self.channels, self.sample_bytes) == (SAMPLE_RATE, 1, 2)


def wav_format(path: Path) -> WavFormat:
    """Read a PCM WAV header; raise :class:`SynthError` if it is not one."""
    try:
        with wave.open(str(path), "rb") as w:
            return WavFormat(w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SynthError(f"{path}: not a PCM WAV file ({exc})") from exc


def read_pcm(path: Path) -> bytes:
    """The samples of a WAV file Asterisk plays (8 kHz mono 16-bit); :class:`SynthError`
    names the file when it is not one (a missing file raises ``OSError``)."""
    try:
        with wave.open(str(path), "rb") as w:
            fmt = WavFormat(w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())
            if not fmt.asterisk_ok:
                raise SynthError(f"{path}: {fmt.rate} Hz, {fmt.channels} channel(s), "
                                 f"{8 * fmt.sample_bytes} bit; need 8000 Hz mono 16 bit")
            return w.readframes(fmt.frames)
    except (wave.Error, EOFError) as exc:
        raise SynthError(f"{path}: not a PCM WAV file ({exc})") from exc


def wav_seconds(path: Path) -> float:
    """Duration of a PCM WAV file in seconds."""
    return wav_format(path).seconds
