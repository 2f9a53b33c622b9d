"""Issue 17: `hotline catalogue timeline|diff|export` on every region of the shipped files."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.catalogue.table import COLUMNS, routing_table, table_diff
from ivr.catalogue.timeline import timeline
from ivr.cli.main import main
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.routing.decision import CallFacts, decide

REPO = Path(__file__).resolve().parents[2]
REGIONS = ("anhui", "chenzhou", "fujian", "sichuan", "inner_mongolia")


@pytest.fixture(scope="module")
def shipped() -> EngineConfig:
    return load_engine_config(REPO)


def phase_on(config: EngineConfig, region: str, number: str, day: date) -> str:
    at = datetime.combine(day, time(12), ZoneInfo("Asia/Shanghai"))
    return decide(CallFacts(number=number, at=at, region=region), config).phase.value


@pytest.mark.parametrize("region", REGIONS)
def test_timeline_is_ordered_cited_and_agrees_with_routing(shipped: EngineConfig,
                                                           region: str) -> None:
    changes = timeline(shipped.catalogue, region)
    assert changes and [c.day for c in changes] == sorted(c.day for c in changes)
    issued = shipped.catalogue.regions[region].issued
    for change in changes:
        assert change.plan_item
        if change.pattern:
            continue
        assert phase_on(shipped, region, change.number, change.day) == change.phase.value
        if change.day > issued:
            before = phase_on(shipped, region, change.number, change.day - timedelta(days=1))
            assert before != change.phase.value, change


@pytest.mark.parametrize("region", REGIONS)
def test_every_listed_line_appears_in_the_timeline(shipped: EngineConfig, region: str) -> None:
    listed = {line.number for line in shipped.catalogue.regions[region].lines}
    assert {c.number for c in timeline(shipped.catalogue, region) if not c.pattern} == listed


@pytest.mark.parametrize("region", REGIONS)
def test_diff_across_each_dated_change_names_its_numbers(shipped: EngineConfig,
                                                         region: str) -> None:
    issued = shipped.catalogue.regions[region].issued
    by_day: dict[date, set[str]] = {}
    for change in timeline(shipped.catalogue, region):
        if change.day > issued:
            by_day.setdefault(change.day, set()).add(change.number)
    assert by_day
    for day, numbers in by_day.items():
        diff = table_diff(shipped, region, day - timedelta(days=1), day)
        assert {d.after.number for d in diff} == numbers, day
    assert table_diff(shipped, region, issued, issued) == []


@pytest.mark.parametrize("region", REGIONS)
def test_export_has_one_row_per_number_and_pattern(shipped: EngineConfig, region: str) -> None:
    profile = shipped.catalogue.regions[region]
    rows = routing_table(shipped, region, date(2021, 12, 15))
    numbers = [row.number for row in rows]
    expected = (["12345", "110", "119", "120", "122"] + [line.number for line in profile.lines]
                + [p.regex for p in profile.patterns])
    assert numbers == expected
    assert all(row.queue or row.dial for row in rows)


@pytest.mark.parametrize("region", REGIONS)
def test_cli_export_csv(capsys: pytest.CaptureFixture[str], region: str) -> None:
    assert main(["catalogue", "export", "--config", str(REPO), "--region", region,
                 "--at", "2022-01-01", "--format", "csv"]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(table[0]) == COLUMNS
    by_number = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in table[1:]}
    assert by_number["12345"]["mode"] == "main"
    assert by_number["12366"]["target"] == "subcenter"


@pytest.mark.parametrize("region", REGIONS)
def test_cli_timeline_and_diff(capsys: pytest.CaptureFixture[str], region: str) -> None:
    assert main(["catalogue", "timeline", "--config", str(REPO), "--region", region]) == 0
    out = capsys.readouterr().out
    assert "whole_merge" in out and ("附件" in out or "正文" in out)
    assert main(["catalogue", "diff", "--config", str(REPO), "--region", region,
                 "--from", "2021-01-01", "--to", "2022-12-31"]) == 0
    out = capsys.readouterr().out
    assert "not_yet_merged" in out and "cancelled" in out
    assert out.rstrip().splitlines()[-1].endswith(f"between 2021-01-01 and 2022-12-31 ({region})")


def test_timeline_flags_assumed_dates_and_remarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "timeline", "--config", str(REPO), "--region", "chenzhou"]) == 0
    lines = capsys.readouterr().out.splitlines()
    stated = next(line for line in lines if " 12336 " in line and "transition" in line)
    assert stated.startswith("2021-09-29*") and "备注 已归并到12345" in stated
    cancelled = next(line for line in lines if " 12300 " in line and "cancelled" in line)
    assert cancelled.startswith("2022-01-01") and cancelled.endswith("[assumed]")
    assert main(["catalogue", "timeline", "--config", str(REPO), "--region", "sichuan"]) == 0
    sichuan = capsys.readouterr().out.splitlines()
    national = next(line for line in sichuan if " 12396 " in line and "transition" in line)
    assert national.startswith("2021-06-01") and "[assumed]" not in national


def test_diff_on_the_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    # docs/catalogue.md: what changes for Anhui when its assumed window closes.
    assert main(["catalogue", "diff", "--config", str(REPO), "--region", "anhui",
                 "--from", "2021-12-31", "--to", "2022-01-01"]) == 0
    out = capsys.readouterr().out
    assert "12396  全国统一科技公益服务电话: transition [anhui/transition-12396] queue " \
           "hl-science_technology  ->  cancelled [not-in-service] queue " \
           "hl-science_technology" in out
    assert out.rstrip().endswith("14 numbers change between 2021-12-31 and 2022-01-01 (anhui)")


def test_unknown_region_and_reversed_dates_are_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalogue", "timeline", "--config", str(REPO), "--region", "hunan"]) == 2
    assert "unknown region 'hunan'" in capsys.readouterr().err
    assert main(["catalogue", "diff", "--config", str(REPO), "--from", "2022-01-02",
                 "--to", "2022-01-01"]) == 2
