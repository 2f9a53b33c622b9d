"""Issue 17, catalogue fidelity: one test per finding of the audit, on the shipped files.

Each failed on the catalogue before the fix: utility partners swallowed by patterns,
Inner Mongolia's local lines left out, Chenzhou's remarks read further than the text,
dates the plans never give, and lines reaching 12345 before their own start date.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.catalogue.lookup import find_line
from ivr.catalogue.model import Catalogue, ScheduleKey
from ivr.cli.main import main
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.config.errors import ConfigError
from ivr.prompts.render import line_prompt_text
from ivr.prompts.schema import load_prompts
from ivr.routing.decision import CallFacts, Decision, decide

REPO = Path(__file__).resolve().parents[2]
FILES = ("merger_catalogue.yaml", "routing_rules.yaml", "agents.yaml")
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTILITY = ("96116", "96777", "96069", "95598")  # routing_rules.yaml utility endpoints


@pytest.fixture(scope="module")
def shipped() -> EngineConfig:
    return load_engine_config(REPO)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped configuration."""
    for name in FILES:
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_engine_config(directory)
    return [str(p) for p in info.value.problems]


def route(config: EngineConfig, region: str, number: str, day: str) -> Decision:
    at = datetime.combine(date.fromisoformat(day), time(12), SHANGHAI)
    return decide(CallFacts(number=number, at=at, region=region), config)


# ── Patterns that cannot swallow partners ────────────────────────────────────────

@pytest.mark.parametrize("number", UTILITY)
def test_utility_numbers_are_not_matched_by_any_pattern(shipped: EngineConfig,
                                                        number: str) -> None:
    for key, region in shipped.catalogue.regions.items():
        assert not any(p.matches(number) for p in region.patterns), (key, number)
        assert find_line(shipped.catalogue, key, number) is None, (key, number)


def test_utility_number_is_not_cancelled(shipped: EngineConfig) -> None:
    # `hotline route 96777 --region anhui --at 2022-03-01` used to say cancelled.
    decision = route(shipped, "anhui", "96777", "2022-03-01")
    assert (decision.line.mode, decision.phase) == ("unknown", "active")


def test_pattern_swallowing_a_partner_is_rejected_with_file_and_line(copy: Path) -> None:
    edit(copy, "merger_catalogue.yaml", 'excludes: ["96116", "96777", "96069"]',
         'excludes: ["96116", "96069"]')
    found = [p for p in problems(copy) if "96777" in p]
    assert len(found) == 1, found
    assert "merger_catalogue.yaml:" in found[0]
    assert "regions.anhui.patterns[0].regex: pattern matches 96777, the utility endpoint " \
           "utility-gas (routing_rules.yaml:" in found[0]


def test_pattern_swallowing_a_new_endpoint_is_rejected(copy: Path) -> None:
    edit(copy, "routing_rules.yaml", "  utility-heating:",
         "  utility-bus: {dial: PJSIP/96166@subcenters, kind: utility}\n  utility-heating:")
    found = problems(copy)
    regions = sorted(p.split("regions.")[1].split(".")[0] for p in found if "96166" in p)
    assert regions == ["anhui", "inner_mongolia", "sichuan"], found


def test_inner_mongolia_local_number_is_a_whole_merge_local_line(shipped: EngineConfig) -> None:
    decision = route(shipped, "inner_mongolia", "96123", "2021-10-01")
    assert (decision.line.mode, decision.phase) == ("whole_merge", "transition")
    assert "local_line" in decision.tags
    assert decision.prompts == ["transition-generic"]


def test_patterns_only_count_where_the_plan_lists_them(shipped: EngineConfig) -> None:
    counted = {key: [p.counted for p in region.patterns]
               for key, region in shipped.catalogue.regions.items()}
    assert counted == {"anhui": [True], "chenzhou": [], "fujian": [], "sichuan": [True],
                       "inner_mongolia": [False]}


# ── Remarks encoded faithfully (Chenzhou) ────────────────────────────────────────

@pytest.mark.parametrize("number", ["12336", "12312", "12301"])
@pytest.mark.parametrize("day", ["2021-10-01", "2021-11-30", "2021-12-15", "2021-12-31"])
def test_chenzhou_merged_into_12345_is_not_announced_as_stopped(
        shipped: EngineConfig, number: str, day: str) -> None:
    decision = route(shipped, "chenzhou", number, day)
    assert "not-in-service" not in decision.prompts
    assert decision.prompts == [f"chenzhou/transition-{number}"]
    assert decision.phase == "transition" and decision.target.kind == "queue"


@pytest.mark.parametrize("number", ["12330", "12331", "12358", "12365"])
def test_chenzhou_merged_into_12315_prompt_names_12345(shipped: EngineConfig,
                                                       number: str) -> None:
    prompts = load_prompts(REPO / "recordings" / "prompts.yaml")
    catalogue: Catalogue = shipped.catalogue
    region = catalogue.regions["chenzhou"]
    line = next(line for line in region.lines if line.number == number)
    text = line_prompt_text(prompts, catalogue, region, line) or ""
    assert "12345" in text and "12315" not in text, text
    decision = route(shipped, "chenzhou", number, "2021-12-15")
    assert decision.prompts == [f"chenzhou/transition-{number}"]
    assert (decision.target.kind, decision.target.number) == ("expert", "12315")


def test_96119_never_reaches_the_119_centre(shipped: EngineConfig) -> None:
    fire = {shipped.rules.emergency["119"].dial, shipped.rules.emergency["119"].backup_dial}
    for key in shipped.catalogue.regions:
        for day in ("2021-03-01", "2021-06-01", "2021-11-30", "2021-12-15", "2022-06-01"):
            decision = route(shipped, key, "96119", day)
            assert decision.target.dial not in fire, (key, day)
            assert decision.target.queue, (key, day)


# ── One rule for unstated dates ──────────────────────────────────────────────────

def test_deadline_only_regions_end_their_window_at_the_one_number_deadline(
        shipped: EngineConfig) -> None:
    for key in ("anhui", "chenzhou", "inner_mongolia"):
        schedule = shipped.catalogue.regions[key].schedule
        for phase in (schedule.national_whole_merge, schedule.local_whole_merge):
            assert phase.transition.end == date(2021, 12, 31), key
            assert phase.cancelled_from == date(2022, 1, 1), key
        assert set(schedule.assumed) == set(ScheduleKey), key


def test_stated_dates_are_not_assumed(shipped: EngineConfig) -> None:
    sichuan = shipped.catalogue.regions["sichuan"].schedule
    assert set(sichuan.assumed) == {ScheduleKey.SUB_CENTER_FROM}
    assert sichuan.national_whole_merge.transition.start == date(2021, 6, 1)
    assert sichuan.dual_number_from == date(2021, 10, 16)


def test_assumed_date_appears_in_check_notes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(REPO)]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if ": note: assumed date" in line]
    assert len(notes) == 1, out
    assert "merger_catalogue.yaml:" in notes[0]
    assert "regions.sichuan.schedule.assumed.sub_center_from: note: assumed date " \
           "(from 2021-04-01; 5 lines follow it)" in notes[0]
    assert "3月31日前" in notes[0]


def test_deployment_schedule_confirms_an_assumed_date(
        copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(copy, "routing_rules.yaml", "  line_overrides: {}\n",
         "  line_overrides: {}\n  schedule: {sub_center_from: 2021-04-15}\n")
    assert main(["check", "--config", str(copy)]) == 0
    assert ": note:" not in capsys.readouterr().out
    config = load_engine_config(copy)
    assert route(config, "sichuan", "12366", "2021-04-14").phase == "not_yet_merged"
    assert route(config, "sichuan", "12366", "2021-04-15").phase == "active"


def test_deployment_schedule_in_the_wrong_order_is_rejected(copy: Path) -> None:
    edit(copy, "routing_rules.yaml", "  line_overrides: {}\n",
         "  line_overrides: {}\n  schedule:\n    national_whole_merge:\n"
         "      transition: {start: 2021-06-01, end: 2021-09-30}\n"
         "      cancelled_from: 2021-09-01\n")
    found = problems(copy)
    assert any("routing_rules.yaml:" in p and "deployment.schedule.national_whole_merge."
               "cancelled_from: cancelled_from overlaps the transition window" in p
               for p in found), found


# ── Before a line's start date: its own seats ────────────────────────────────────

def test_sub_center_before_its_date_reaches_its_own_seats(shipped: EngineConfig) -> None:
    before = route(shipped, "sichuan", "12366", "2021-03-31")
    assert (before.phase, before.target.kind) == ("not_yet_merged", "legacy")
    assert before.target.dial == "PJSIP/12366@subcenters"
    assert before.prompts == [] and before.target.queue == "hl-tax"
    after = route(shipped, "sichuan", "12366", "2021-04-01")
    assert (after.target.kind, after.prompts) == ("subcenter", ["transfer-connecting"])


def test_dual_line_before_its_date_reaches_a_configured_legacy_endpoint(copy: Path) -> None:
    edit(copy, "routing_rules.yaml", "  line_overrides: {}\n",
         "  line_overrides: {}\n  legacy:\n    departments: {司法厅: legacy-sft}\n")
    edit(copy, "routing_rules.yaml", "  utility-power:",
         "  legacy-sft: {dial: PJSIP/12348@legacy, kind: legacy}\n  utility-power:")
    config = load_engine_config(copy)
    before = route(config, "sichuan", "12348", "2021-10-15")
    assert (before.target.kind, before.target.endpoint) == ("legacy", "legacy-sft")
    assert before.target.queue == "hl-legal_services"  # 12345 behind, never lost
    assert route(config, "sichuan", "12348", "2021-10-16").target.kind == "queue"
    # another department's line has no legacy endpoint: 12345, and the tag says so
    other = route(config, "sichuan", "12333", "2021-10-15")
    assert other.target.kind == "queue" and "no_legacy_endpoint" in other.tags


@pytest.mark.parametrize(("legacy", "endpoint", "message"), [
    ("departments: {不存在的局: legacy-x}", "{dial: PJSIP/1@legacy, kind: legacy}",
     "region sichuan has no department '不存在的局'"),
    ("lines: {\"12348\": legacy-y}", "{dial: PJSIP/1@legacy, kind: legacy}",
     "endpoint 'legacy-y' is not defined under 'endpoints'"),
    ("lines: {\"12348\": legacy-x}", "{dial: PJSIP/1@legacy, kind: department}",
     "endpoint 'legacy-x' is of kind department, not legacy"),
])
def test_legacy_mistakes_are_located(copy: Path, legacy: str, endpoint: str,
                                     message: str) -> None:
    edit(copy, "routing_rules.yaml", "  line_overrides: {}\n",
         f"  line_overrides: {{}}\n  legacy:\n    {legacy}\n")
    edit(copy, "routing_rules.yaml", "  utility-power:", f"  legacy-x: {endpoint}\n  utility-power:")
    found = problems(copy)
    assert any("routing_rules.yaml:" in p and "deployment.legacy." in p and message in p
               for p in found), found


def test_no_line_reaches_an_expert_seat_or_subcenter_before_its_date(
        shipped: EngineConfig) -> None:
    for key, region in shipped.catalogue.regions.items():
        for start in (region.schedule.dual_number_from, region.schedule.sub_center_from):
            assert start is not None
            day = (start - timedelta(days=1)).isoformat()
            for line in region.lines:
                decision = route(shipped, key, line.number, day)
                if decision.phase == "not_yet_merged":
                    assert decision.target.kind in ("queue", "legacy"), (key, line.number)
                    assert not (decision.target.skill or "").startswith("expert_"), \
                        (key, line.number)
