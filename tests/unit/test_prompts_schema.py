"""The prompts.yaml schema: strict keys, located errors, template fields, no menus."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config.errors import ConfigError
from ivr.prompts.schema import load_prompts

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
version: 1
prompts:
  greeting: 欢迎致电12345政务服务便民热线。
  not-in-service: 您拨打的号码已停止使用。
  hold: 请稍候。
  transfer-connecting: 正在为您联系相关部门。
  queue-comfort: 请您耐心等候。
  no-agents-callback: 我们将尽快给您回电。
  fallback: 正在为您转接人工服务。
  diverted-emergency: 您的来电已转至12345。
  transition-generic: 您拨打的热线已并入12345。
templates:
  transition: 您拨打的{name}{number}已并入12345。
  merged_into: 您拨打的{name}{number}已并入{target_name}{target}。
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prompts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problem(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_prompts(path)
    return str(info.value)


def test_repository_prompts_file_is_valid() -> None:
    prompts = load_prompts(REPO / "recordings" / "prompts.yaml")
    ids = list(prompts.prompts.by_id())
    assert ids[0] == "greeting"
    assert {"not-in-service", "hold", "transfer-connecting", "queue-comfort",
            "no-agents-callback", "fallback", "diverted-emergency"} <= set(ids)
    assert "{number}" in prompts.templates.transition


def test_minimal_file_loads_with_defaults(tmp_path: Path) -> None:
    prompts = load_prompts(_write(tmp_path, GOOD))
    assert prompts.voice.speed == 175
    assert prompts.templates.unnamed_line == "号码"
    assert prompts.pronunciations == {}


def test_unknown_prompt_key_is_located(tmp_path: Path) -> None:
    text = GOOD.replace("  hold: 请稍候。\n", "  hold: 请稍候。\n  hodl: 请稍候。\n")
    message = _problem(tmp_path, text)
    assert f"{tmp_path / 'prompts.yaml'}:6: prompts.hodl: unknown key" in message


def test_unknown_top_level_key_is_located(tmp_path: Path) -> None:
    message = _problem(tmp_path, GOOD + "colour: blue\n")
    line = len(GOOD.splitlines()) + 1
    assert f"prompts.yaml:{line}: colour: unknown key" in message


def test_missing_prompt_is_reported(tmp_path: Path) -> None:
    message = _problem(tmp_path, GOOD.replace("  fallback: 正在为您转接人工服务。\n", ""))
    assert "prompts.fallback: required key is missing" in message


def test_template_with_unknown_field_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("{name}{number}已并入12345", "{nmae}{number}已并入12345")
    message = _problem(tmp_path, text)
    assert "templates.transition" in message
    assert "unknown field {nmae}" in message


def test_template_must_say_the_number(tmp_path: Path) -> None:
    message = _problem(tmp_path, GOOD.replace("{name}{number}已并入12345", "{name}已并入12345"))
    assert "templates.transition" in message and "{number}" in message


def test_menu_text_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("greeting: 欢迎致电12345政务服务便民热线。",
                        "greeting: 欢迎致电12345，咨询请按1。")
    message = _problem(tmp_path, text)
    assert "prompts.greeting" in message and "GB/T 33358" in message


def test_fixed_prompt_cannot_hold_template_fields(tmp_path: Path) -> None:
    message = _problem(tmp_path, GOOD.replace("hold: 请稍候。", "hold: 请稍候{name}。"))
    assert "prompts.hold" in message


def test_pronunciation_needs_one_syllable_per_character(tmp_path: Path) -> None:
    message = _problem(tmp_path, GOOD + "pronunciations:\n  单县: shan4\n")
    assert "pronunciations" in message and "2 characters but 1 syllables" in message


def test_pronunciation_needs_tone_numbers(tmp_path: Path) -> None:
    message = _problem(tmp_path, GOOD + "pronunciations:\n  单县: shàn xiàn\n")
    assert "tone-numbered pinyin" in message
