"""Real placeholder synthesis, and the incremental prompt build."""

from __future__ import annotations

import os
import shutil
import wave
from pathlib import Path

import pytest

from ivr.prompts.make import Manifest, build, main
from ivr.prompts.render import PromptSpec
from ivr.prompts.schema import load_prompts
from ivr.prompts.synth import SynthError, Voice, find_tools, synthesize, wav_format

REPO = Path(__file__).resolve().parents[2]
HAVE_TOOLS = bool(shutil.which("espeak-ng") and shutil.which("sox"))
needs_tools = pytest.mark.skipif(
    not HAVE_TOOLS and os.environ.get("CI") != "true",
    reason="espeak-ng and sox are not installed (tools/bootstrap installs them)",
)


@needs_tools
def test_real_synthesis_is_8khz_mono_16bit(tmp_path: Path) -> None:
    out = tmp_path / "hold.wav"
    seconds = synthesize("请稍候，正在为您转接。", out)
    with wave.open(str(out), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getcomptype() == "NONE"
        frames = w.readframes(w.getnframes())
    # 9 syllables: a robotic voice takes 2 to 5 s; the audio is not silence
    assert 1.5 < seconds < 6.0
    assert max(abs(int.from_bytes(frames[i : i + 2], "little", signed=True))
               for i in range(0, len(frames), 2)) > 8000
    assert wav_format(out).asterisk_ok


def test_missing_tool_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SynthError, match=r"espeak-ng not found on PATH.*apt-get install espeak-ng"):
        find_tools()


class FakeSynth:
    """Records calls and writes a tiny valid WAV."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, spoken: str, out: Path, voice: Voice) -> float:
        self.calls.append(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 800)
        return 0.1


SPECS = [
    PromptSpec("greeting", "欢迎致电12345。", "t"),
    PromptSpec("hold", "请稍候。", "t"),
    PromptSpec("anhui/transition-12396", "您拨打的12396已并入12345。", "t"),
]


def test_build_is_incremental_and_idempotent(tmp_path: Path) -> None:
    fake = FakeSynth()
    report = build(SPECS, tmp_path, synth=fake, jobs=2, log=lambda _: None)
    assert sorted(report.generated) == sorted(s.id for s in SPECS)
    assert (tmp_path / "generated" / "anhui" / "transition-12396.wav").is_file()
    manifest = tmp_path / "generated" / "manifest.json"
    stamp = manifest.stat().st_mtime_ns

    again = build(SPECS, tmp_path, synth=fake, log=lambda _: None)
    assert again.generated == [] and len(again.up_to_date) == 3
    assert len(fake.calls) == 3 and manifest.stat().st_mtime_ns == stamp

    changed = [*SPECS[:1], PromptSpec("hold", "请稍等。", "t"), SPECS[2]]
    third = build(changed, tmp_path, synth=fake, log=lambda _: None)
    assert third.generated == ["hold"]
    assert Manifest(manifest).entries["hold"]["text"] == "请稍等。"

    louder = build(changed, tmp_path, voice=Voice(gain_db=-1), synth=fake, log=lambda _: None)
    assert len(louder.generated) == 3  # voice settings are part of the hash


def test_build_skips_custom_and_prunes_stale(tmp_path: Path) -> None:
    fake = FakeSynth()
    build(SPECS, tmp_path, synth=fake, log=lambda _: None)
    FakeSynth()(" ", tmp_path / "custom" / "hold.wav", Voice())
    (tmp_path / "generated" / "hold.wav").unlink()
    report = build(SPECS[:2], tmp_path, synth=fake, force=True, log=lambda _: None)
    assert report.custom == ["hold"]
    assert report.generated == ["greeting"]
    assert report.removed == ["anhui/transition-12396"]
    assert not (tmp_path / "generated" / "anhui").exists()
    assert not (tmp_path / "generated" / "hold.wav").exists()


def test_custom_recording_in_wrong_format_is_warned(tmp_path: Path) -> None:
    custom = tmp_path / "custom" / "greeting.wav"
    custom.parent.mkdir(parents=True)
    with wave.open(str(custom), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\0\0\0\0" * 100)
    report = build(SPECS[:1], tmp_path, synth=FakeSynth(), log=lambda _: None)
    assert report.custom == ["greeting"]
    assert any("44100 Hz" in w and "8000 Hz mono 16-bit" in w for w in report.warnings)


@needs_tools
def test_command_generates_fixed_prompts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copy(REPO / "recordings" / "prompts.yaml", recordings / "prompts.yaml")
    fixed = len(type(load_prompts(recordings / "prompts.yaml").prompts).model_fields)
    assert fixed >= 10
    assert main(["--root", str(tmp_path), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{fixed} generated" in out and f"[{fixed}/{fixed}]" in out
    assert wav_format(recordings / "generated" / "greeting.wav").asterisk_ok
    assert main(["--root", str(tmp_path)]) == 0
    assert f"0 generated, {fixed} up to date" in capsys.readouterr().out
