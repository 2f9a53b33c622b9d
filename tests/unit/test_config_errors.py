"""`hotline check` names the file, the line and the key of every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cli.main import main
from ivr.config.engine import load_engine_config
from ivr.config.errors import ConfigError
from ivr.config.holder import ConfigHolder


def problems_after(config: Path, old: str, new: str, file: str = "merger_catalogue.yaml") -> list[str]:
    path = config / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_engine_config(config)
    return [str(p) for p in info.value.problems]


def test_shipped_fixture_is_valid(mini_config: Path) -> None:
    config = load_engine_config(mini_config)
    assert config.region == "testland"


def test_unknown_key(mini_config: Path) -> None:
    found = problems_after(mini_config, 'plan_item: "二 1"}', 'plan_item: "二 1", expert: 1}')
    assert any(p.endswith("regions.testland.lines[3].expert: unknown key") for p in found), found
    assert found[0].startswith(f"{mini_config / 'merger_catalogue.yaml'}:33:")


def test_duplicate_number_in_region(mini_config: Path) -> None:
    found = problems_after(mini_config, '- {number: "12333", mode: dual_number',
                           '- {number: "12396", mode: dual_number')
    assert any(":33: regions.testland.lines[3].number: duplicate number 12396" in p
               for p in found), found


def test_inverted_window(mini_config: Path) -> None:
    found = problems_after(mini_config, "transition: {start: 2021-06-01, end: 2021-09-30}",
                           "transition: {start: 2021-10-01, end: 2021-09-30}")
    assert any("schedule.national_whole_merge.transition: window ends before it starts" in p
               for p in found), found


def test_overlapping_cancellation(mini_config: Path) -> None:
    found = problems_after(mini_config, "cancelled_from: 2021-10-01", "cancelled_from: 2021-09-15")
    assert any("national_whole_merge.cancelled_from: cancelled_from overlaps" in p
               for p in found), found


def test_subcenter_without_endpoint(mini_config: Path) -> None:
    found = problems_after(mini_config, "subcenter: {level: city, endpoint: subcenter-12366}",
                           "subcenter: {level: city}")
    assert any("lines[5].subcenter.endpoint: required key is missing" in p for p in found), found


def test_subcenter_endpoint_must_exist(mini_config: Path) -> None:
    found = problems_after(mini_config, "endpoint: subcenter-12366}", "endpoint: subcenter-9}")
    assert any("endpoint 'subcenter-9' is not defined" in p for p in found), found


def test_emergency_number_as_line(mini_config: Path) -> None:
    found = problems_after(mini_config, '- {number: "12396", mode: whole_merge',
                           '- {number: "119", mode: whole_merge, name: x, domain: fire_safety')
    assert any("lines[0].number: emergency number 119 cannot be merged" in p for p in found), found


def test_bad_date(mini_config: Path) -> None:
    found = problems_after(mini_config, "dual_number_from: 2021-10-16",
                           "dual_number_from: 2021-13-16")
    assert any("schedule.dual_number_from:" in p for p in found), found


def test_plan_count_mismatch(mini_config: Path) -> None:
    found = problems_after(mini_config, "dual_number: 2,", "dual_number: 3,")
    assert any("counts.dual_number: the plan states 3 dual_number lines, the list has 2" in p
               for p in found), found


def test_duplicate_yaml_key(mini_config: Path) -> None:
    found = problems_after(mini_config, "    name: 测试省\n", "    name: 测试省\n    name: 又\n")
    assert any(p.endswith("regions.testland.name: duplicate key") for p in found), found


def test_unknown_region_in_rules(mini_config: Path) -> None:
    found = problems_after(mini_config, "region: testland", "region: atlantis",
                           file="routing_rules.yaml")
    assert any("deployment.region: unknown region 'atlantis'" in p for p in found), found


def test_check_command_exit_codes(mini_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(mini_config)]) == 0
    path = mini_config / "routing_rules.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("agent_ring_s: 20",
                                                             "agent_ring_s: 2"))
    assert main(["check", "--config", str(mini_config)]) == 1
    out = capsys.readouterr().out
    assert "routing_rules.yaml:" in out and "timing.agent_ring_s:" in out


def test_reload_keeps_last_good(mini_config: Path) -> None:
    holder = ConfigHolder(mini_config)
    path = mini_config / "merger_catalogue.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nbogus: 1\n", encoding="utf-8")
    assert holder.reload() is False
    assert holder.current.region == "testland"
    path.write_text(path.read_text(encoding="utf-8").replace("\nbogus: 1\n", "\n"))
    assert holder.reload() is True
