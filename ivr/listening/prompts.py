"""Prompt audio for the AudioSocket leg: the same files Asterisk plays, as 8 kHz PCM."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ivr.prompts.library import PromptLibrary
from ivr.prompts.synth import SynthError, read_pcm


class PromptAudioError(Exception):
    """A prompt cannot be played over AudioSocket (missing, or not 8 kHz 16-bit mono)."""


class PromptAudio:
    """Reads prompt WAV files once (again when a file changes) as raw 8 kHz 16-bit mono."""

    def __init__(self, library: PromptLibrary) -> None:
        self._library = library
        self._cache: dict[Path, tuple[float, bytes]] = {}

    def pcm(self, prompt_id: str) -> bytes:
        """The audio of one prompt; :class:`PromptAudioError` names the file on any problem."""
        path = self._library.path(prompt_id)
        if path is None:
            raise PromptAudioError(f"prompt {prompt_id!r}: no recording (run tools/make_prompts)")
        try:
            mtime = path.stat().st_mtime
            cached = self._cache.get(path)
            if cached is not None and cached[0] == mtime:
                return cached[1]
            data = read_pcm(path)
        except OSError as exc:
            raise PromptAudioError(f"{path}: {exc}") from exc
        except SynthError as exc:
            raise PromptAudioError(str(exc)) from exc
        self._cache[path] = (mtime, data)
        return data

    def sequence(self, prompt_ids: Sequence[str]) -> bytes:
        """Several prompts back to back."""
        return b"".join(self.pcm(p) for p in prompt_ids)
