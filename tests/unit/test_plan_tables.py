"""Every region's (number, date) -> (mode, phase, target) table from the plan texts."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.config.engine import EngineConfig, load_engine_config
from ivr.routing.decision import CallFacts, decide
from tests.unit.plan_expectations import EXPECTATIONS, REGION_COUNTS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped() -> EngineConfig:
    return load_engine_config(REPO)


@pytest.mark.parametrize(("region", "number", "day", "mode", "phase", "kind"), EXPECTATIONS,
                         ids=[f"{r}-{n}-{d}" for r, n, d, *_ in EXPECTATIONS])
def test_plan_row(shipped: EngineConfig, region: str, number: str, day: str, mode: str,
                  phase: str, kind: str) -> None:
    at = datetime.combine(date.fromisoformat(day), datetime.min.time().replace(hour=12),
                          ZoneInfo("Asia/Shanghai"))
    decision = decide(CallFacts(number=number, at=at, region=region), shipped)
    assert (decision.line.mode, decision.phase, decision.target.kind) == (mode, phase, kind)


@pytest.mark.parametrize("region", sorted(REGION_COUNTS))
def test_region_counts_match_plan(shipped: EngineConfig, region: str) -> None:
    profile = shipped.catalogue.regions[region]
    counted = Counter(line.mode.value for line in profile.lines)
    counted.update(p.mode.value for p in profile.patterns if p.counted)
    assert dict(counted) == REGION_COUNTS[region]


def test_every_listed_line_routes_in_every_region(shipped: EngineConfig) -> None:
    at = datetime(2021, 8, 15, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
    for key, region in shipped.catalogue.regions.items():
        for line in region.lines:
            decision = decide(CallFacts(number=line.number, at=at, region=key), shipped)
            assert decision.line.mode == line.mode.value, (key, line.number)
            assert decision.target.queue or decision.target.dial, (key, line.number)


def test_chenzhou_totals_44_and_mayor_lines_are_local(shipped: EngineConfig) -> None:
    chenzhou = shipped.catalogue.regions["chenzhou"]
    assert len(chenzhou.lines) == 44
    mayor = [line for line in chenzhou.lines if line.number.endswith("12345")]
    assert len(mayor) == 11 and all(line.local for line in mayor)
