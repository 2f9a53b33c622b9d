"""The ``survey:`` section of routing_rules.yaml: strict, located errors, scope rules."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ivr.cli.main import main
from ivr.config.engine import load_engine_config
from ivr.config.errors import ConfigError
from ivr.ratings.settings import SurveyRules

ANCHOR = "survey:\n  enabled: true\n"


def problems(config: Path, old: str, new: str) -> list[str]:
    path = config / "routing_rules.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_engine_config(config)
    return [str(p) for p in info.value.problems]


def line_of(config: Path, needle: str) -> int:
    lines = (config / "routing_rules.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, 1) if needle in text)


def test_the_fixture_and_the_shipped_file_are_valid(mini_config: Path) -> None:
    rules = load_engine_config(mini_config).rules.survey
    assert rules.enabled and rules.timeout_s == 5 and rules.followup.working_days == 5
    assert date(2024, 9, 29) in rules.followup.makeup_days
    shipped = load_engine_config(Path(__file__).resolve().parents[2]).rules.survey
    assert shipped.followup.working_days == 5


def test_unknown_key_names_file_line_and_key(mini_config: Path) -> None:
    found = problems(mini_config, ANCHOR, ANCHOR + "  enabeld: true\n")
    line = line_of(mini_config, "enabeld")
    assert any(p.startswith(f"{mini_config / 'routing_rules.yaml'}:{line}:")
               and "survey.enabeld: unknown key" in p for p in found), found


def test_out_of_range_working_days(mini_config: Path) -> None:
    found = problems(mini_config, "    working_days: 5\n", "    working_days: 0\n")
    line = line_of(mini_config, "working_days: 0")
    assert any(f":{line}: survey.followup.working_days:" in p for p in found), found


def test_makeup_day_on_a_weekday_is_refused(mini_config: Path) -> None:
    found = problems(mini_config, "makeup_days: [2024-09-29, 2024-10-12]",
                     "makeup_days: [2024-09-30]")
    assert any("survey.followup" in p and "2024-09-30 is a weekday" in p for p in found), found


def test_a_day_both_holiday_and_makeup_is_refused(mini_config: Path) -> None:
    found = problems(mini_config, "makeup_days: [2024-09-29, 2024-10-12]",
                     "makeup_days: [2024-09-29]\n    holidays: [2024-09-29]")
    assert found  # a duplicate key or the overlap: either way named with its line
    assert all("routing_rules.yaml:" in p for p in found), found


def test_timeout_and_bad_line_number(mini_config: Path) -> None:
    found = problems(mini_config, "  timeout_s: 5\n", "  timeout_s: 500\n  include: {lines: [abc]}\n")
    assert any("survey.timeout_s" in p for p in found), found
    assert any("survey.include.lines" in p for p in found), found


def test_hotline_check_reports_the_problem(mini_config: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = mini_config / "routing_rules.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  timeout_s: 5\n",
                                                             "  timeout_s: 1\n"), encoding="utf-8")
    assert main(["check", "--config", str(mini_config)]) == 1
    out = capsys.readouterr().out
    assert f"routing_rules.yaml:{line_of(mini_config, 'timeout_s: 1')}: survey.timeout_s" in out


def test_scope() -> None:
    assert not SurveyRules().surveys("12345", "general")  # off unless enabled
    every = SurveyRules(enabled=True)
    assert every.surveys("12345", "general") and every.surveys(None, None)
    some = SurveyRules.model_validate({"enabled": True, "include": {"lines": ["12345"]},
                                       "exclude": {"skills": ["legal_services"]}})
    assert some.surveys("12345", "general")
    assert not some.surveys("12366", "general")
    assert not some.surveys("12345", "legal_services")
