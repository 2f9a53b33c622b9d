"""Synthetic telephone audio for tests and benchmarks: espeak-ng speech, silence, noise.

Speech is synthesised once per (text, voice) and cached as raw 8 kHz 16-bit mono PCM
in ``cache_dir``. Robotic speech: good for exercising VAD and the Vosk code paths,
not for accuracy claims.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

from ivr.prompts.synth import Voice, read_pcm, synthesize, synthesize_spoken

RATE = 8000


def silence(ms: int) -> bytes:
    """Digital silence."""
    return bytes(RATE * ms // 1000 * 2)


def white_noise(ms: int, level_dbfs: float, seed: int = 0) -> bytes:
    """Gaussian white noise at an RMS level in dBFS (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    samples = rng.standard_normal(RATE * ms // 1000) * 32768 * 10 ** (level_dbfs / 20)
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def mix(*tracks: bytes) -> bytes:
    """Sum equal-length or shorter tracks sample by sample (clipped)."""
    length = max(len(t) for t in tracks) // 2
    out = np.zeros(length)
    for track in tracks:
        samples = np.frombuffer(track, dtype="<i2").astype(np.float64)
        out[: samples.size] += samples
    return np.clip(out, -32768, 32767).astype("<i2").tobytes()


def speech(text: str, cache_dir: Path, voice: str = "cmn", speed: int = 150) -> bytes:
    """Speak ``text`` (Mandarin with ``voice="cmn"``, else raw text for that espeak-ng voice)."""
    key = hashlib.sha256(f"{voice}\0{speed}\0{text}".encode()).hexdigest()[:20]
    cached = cache_dir / f"{key}.pcm"
    if cached.is_file():
        return cached.read_bytes()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        wav = Path(tmp) / "speech.wav"
        if voice == "cmn":
            synthesize(text, wav, Voice(speed=speed, lead_ms=0))
        else:
            synthesize_spoken(text, wav, Voice(name=voice, speed=speed, lead_ms=0))
        pcm = read_pcm(wav)
        part = Path(tmp) / "speech.pcm"
        part.write_bytes(pcm)
        part.replace(cached)
    return pcm
