"""Integer-factor upsampling of 16-bit PCM with numpy (8 kHz telephone audio for 16 kHz models).

A windowed-sinc low-pass FIR on the zero-stuffed signal, streaming: the filter's
history is carried across chunks, so chunked and whole-signal output are identical.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_TAPS_PER_PHASE = 16


def lowpass_taps(factor: int, taps_per_phase: int = _TAPS_PER_PHASE) -> npt.NDArray[np.float64]:
    """FIR taps (Blackman-windowed sinc, cut-off at the input Nyquist) with gain ``factor``."""
    n = factor * taps_per_phase + 1
    t = np.arange(n) - (n - 1) / 2
    taps: npt.NDArray[np.float64] = np.sinc(t / factor) * np.blackman(n)
    return taps * (factor / float(taps.sum()))


class Upsampler:
    """``Upsampler(8000, 16000).process(pcm) -> pcm``; output lags input by a fixed delay."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        if target_rate % source_rate or target_rate < source_rate:
            raise ValueError(f"cannot upsample {source_rate} Hz to {target_rate} Hz by an integer factor")
        self.factor = target_rate // source_rate
        self._taps = lowpass_taps(self.factor) if self.factor > 1 else np.ones(1)
        self._history = np.zeros(len(self._taps) - 1)

    def process(self, pcm: bytes) -> bytes:
        """Upsample a chunk of signed 16-bit little-endian mono samples."""
        if self.factor == 1:
            return pcm
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        stuffed = np.zeros(samples.size * self.factor)
        stuffed[:: self.factor] = samples
        padded = np.concatenate([self._history, stuffed])
        out = np.convolve(padded, self._taps, mode="valid")
        self._history = padded[len(padded) - len(self._history):]
        return np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes()
