"""The ``callbacks:`` section of routing_rules.yaml: strict, errors name file:line:key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.config.callbacks import CallbackRules
from ivr.config.engine import load_engine_config
from ivr.config.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    target.mkdir()
    for name in ("merger_catalogue.yaml", "routing_rules.yaml", "agents.yaml"):
        shutil.copy(REPO / name, target / name)
    return target


def problems_after(config: Path, old: str, new: str) -> list[str]:
    path = config / "routing_rules.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_engine_config(config)
    return [str(p) for p in info.value.problems]


def line_of(config: Path, text: str) -> int:
    lines = (config / "routing_rules.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if text in line)


def test_the_shipped_section_loads(shipped: Path) -> None:
    rules = load_engine_config(shipped).rules.callbacks
    assert rules.quiet_hours is not None and rules.quiet_hours.start == "21:00"
    assert rules.dial_for("13800138000") == "PJSIP/trunk/sip:13800138000@127.0.0.1:5196"


def test_an_unknown_key_names_file_line_and_key(shipped: Path) -> None:
    problems = problems_after(shipped, "  max_attempts: 3", "  max_atempts: 3")
    line = line_of(shipped, "max_atempts")
    assert problems == [f"{shipped / 'routing_rules.yaml'}:{line}: callbacks.max_atempts: "
                        "unknown key"]


def test_quiet_hours_need_hh_mm(shipped: Path) -> None:
    problems = problems_after(shipped, 'start: "21:00"', 'start: "9pm"')
    assert len(problems) == 1
    assert "callbacks.quiet_hours.start" in problems[0] and "HH:MM" in problems[0]


def test_the_dial_string_needs_the_number_once(shipped: Path) -> None:
    problems = problems_after(shipped, "dial: PJSIP/trunk/sip:{number}@127.0.0.1:5196",
                              "dial: PJSIP/13800138000@carrier")
    assert len(problems) == 1 and "callbacks.dial" in problems[0] and "{number}" in problems[0]


@pytest.mark.parametrize("dial", ["PJSIP/{number}@a,tT", "PJSIP/{number}&SIP/x",
                                  "PJSIP/${EXTEN}{number}", "PJSIP/{number}{number}"])
def test_dial_strings_cannot_smuggle_options(dial: str) -> None:
    with pytest.raises(ValueError, match="dial"):
        CallbackRules.model_validate({"dial": dial})


def test_limits_are_bounded() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        CallbackRules.model_validate({"max_attempts": 0})
    with pytest.raises(ValueError, match="start and end are equal"):
        CallbackRules.model_validate({"quiet_hours": {"start": "08:00", "end": "08:00"}})
    assert CallbackRules.model_validate({"quiet_hours": None}).quiet_hours is None
