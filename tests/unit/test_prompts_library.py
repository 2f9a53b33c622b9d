"""Prompt files: custom recordings win over generated ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.prompts.library import SEEN_FOR_S, PromptLibrary, transition_prompt_id


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")


def test_custom_recording_is_preferred(tmp_path: Path) -> None:
    now = [100.0]
    library = PromptLibrary(tmp_path, clock=lambda: now[0])
    _touch(tmp_path / "generated" / "greeting.wav")
    assert library.sound_name("greeting") == "hotline/generated/greeting"
    _touch(tmp_path / "custom" / "greeting.wav")
    # per call the name is not looked up on disk again until SEEN_FOR_S has passed
    assert library.sound_name("greeting") == "hotline/generated/greeting"
    now[0] += SEEN_FOR_S
    assert library.sound_name("greeting") == "hotline/custom/greeting"
    assert library.path("greeting") == tmp_path / "custom" / "greeting.wav"


def test_regional_ids_and_missing(tmp_path: Path) -> None:
    library = PromptLibrary(tmp_path)
    prompt_id = library.transition_prompt_id("anhui", "12396")
    assert prompt_id == "anhui/transition-12396" == transition_prompt_id("anhui", "12396")
    assert library.missing(["greeting", prompt_id]) == ["greeting", prompt_id]
    _touch(tmp_path / "generated" / "anhui" / "transition-12396.wav")
    _touch(tmp_path / "custom" / "greeting.wav")
    assert library.missing(["greeting", prompt_id, "hold"]) == ["hold"]
    assert library.sound_name(prompt_id) == "hotline/generated/anhui/transition-12396"


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b/c", "/greeting", "Greeting", ""])
def test_bad_ids_are_rejected(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="bad prompt id"):
        PromptLibrary(tmp_path).sound_name(bad)
