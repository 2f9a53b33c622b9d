"""Where a prompt's audio is and the name Asterisk's ``Playback()`` takes for it.

Layout under the recordings directory (mounted in Asterisk's sounds dir as ``hotline``)::

    custom/<id>.wav      studio recordings an admin drops in: these win
    generated/<id>.wav   placeholder audio from ``tools/make_prompts``

Ids are ``greeting`` style names for fixed prompts and ``<region>/transition-<number>``
for the per-line transition prompts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

SOUNDS_MOUNT = "hotline"
CUSTOM = "custom"
GENERATED = "generated"
EXTENSION = ".wav"
#: how long ``sound_name`` trusts what it saw on disk (a studio file dropped in is
#: used from the next call after this, without a stat per prompt per call)
SEEN_FOR_S = 10.0

_SEGMENT = r"[a-z0-9][a-z0-9_\-]*"
_PROMPT_ID = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})?")


def check_prompt_id(prompt_id: str) -> str:
    """Return ``prompt_id`` if well formed (no paths outside the library), else raise."""
    if not _PROMPT_ID.fullmatch(prompt_id):
        raise ValueError(
            f"bad prompt id {prompt_id!r}: expected 'name' or 'region/name' "
            "(lower-case letters, digits, '-' and '_')"
        )
    return prompt_id


def transition_prompt_id(region: str, number: str) -> str:
    """Id of the transition prompt of ``number`` in ``region``."""
    return check_prompt_id(f"{region}/transition-{number}")


class PromptLibrary:
    """The prompt files under one recordings directory."""

    def __init__(self, recordings_dir: Path, mount: str = SOUNDS_MOUNT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.recordings_dir = Path(recordings_dir)
        self.mount = mount
        self._clock = clock
        self._seen: dict[str, tuple[float, str]] = {}  # prompt id -> (checked at, sound name)

    def custom_path(self, prompt_id: str) -> Path:
        """Where the studio recording of ``prompt_id`` goes."""
        return self.recordings_dir / CUSTOM / f"{check_prompt_id(prompt_id)}{EXTENSION}"

    def generated_path(self, prompt_id: str) -> Path:
        """Where the generated placeholder of ``prompt_id`` goes."""
        return self.recordings_dir / GENERATED / f"{check_prompt_id(prompt_id)}{EXTENSION}"

    def has_custom(self, prompt_id: str) -> bool:
        """True when a studio recording exists for ``prompt_id``."""
        return self.custom_path(prompt_id).is_file()

    def path(self, prompt_id: str) -> Path | None:
        """The file that plays for ``prompt_id`` (custom first), or None if neither exists."""
        for candidate in (self.custom_path(prompt_id), self.generated_path(prompt_id)):
            if candidate.is_file():
                return candidate
        return None

    def sound_name(self, prompt_id: str) -> str:
        """What ``Playback()`` takes: ``hotline/custom/<id>`` if recorded, else generated
        (looked up on disk at most every ``SEEN_FOR_S`` per prompt: this is per call)."""
        now = self._clock()
        seen = self._seen.get(prompt_id)
        if seen is not None and now - seen[0] < SEEN_FOR_S:
            return seen[1]
        kind = CUSTOM if self.has_custom(prompt_id) else GENERATED
        name = f"{self.mount}/{kind}/{prompt_id}"
        if len(self._seen) > 4096:
            self._seen.clear()
        self._seen[prompt_id] = (now, name)
        return name

    def missing(self, ids: Iterable[str]) -> list[str]:
        """The ids, in order, that have neither a custom nor a generated file."""
        return [prompt_id for prompt_id in ids if self.path(prompt_id) is None]

    @staticmethod
    def transition_prompt_id(region: str, number: str) -> str:
        """Id of the transition prompt of ``number`` in ``region``."""
        return transition_prompt_id(region, number)
