"""The per-number routing table of a region on a date, and what changes between two dates.

Pure functions: every row is what :func:`ivr.routing.decision.decide` gives a call to
that number at noon (local time) on the day, so the table is what callers will meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from ivr.catalogue.timeline import assumption_of, region_matches
from ivr.config.engine import EngineConfig
from ivr.routing.decision import CallFacts, Decision, decide, decide_match

#: The CSV columns of ``hotline catalogue export``, in order.
COLUMNS = ("number", "name", "mode", "phase", "prompts", "target", "dial", "endpoint",
           "queue", "skill", "department", "plan_item", "assumed")


@dataclass(frozen=True)
class Row:
    """How calls to one number (or one pattern) are handled on a day."""

    number: str
    name: str
    mode: str
    phase: str
    prompts: str
    target: str
    dial: str
    endpoint: str
    queue: str
    skill: str
    department: str
    plan_item: str
    assumed: str  # the plan sentence the row's dates rest on, when assumed

    def cells(self) -> list[str]:
        """The row as CSV cells in :data:`COLUMNS` order."""
        return [getattr(self, column) for column in COLUMNS]

    def treatment(self) -> tuple[str, ...]:
        """What a caller meets: phase, prompts and target (what ``diff`` compares)."""
        return (self.phase, self.prompts, self.target, self.dial, self.queue)


def _noon(config: EngineConfig, region_key: str, day: date) -> datetime:
    zone = ZoneInfo(config.catalogue.regions[region_key].timezone)
    return datetime.combine(day, time(12), zone)


def _row(decision: Decision, assumed: str | None) -> Row:
    target = decision.target
    return Row(number=decision.number, name=decision.line.name,
               mode=decision.line.mode.value, phase=decision.phase.value,
               prompts="&".join(decision.prompts), target=target.kind.value,
               dial=target.dial or "", endpoint=target.endpoint or "", queue=target.queue or "",
               skill=target.skill or "", department=decision.line.department or "",
               plan_item=decision.line.plan_item or "", assumed=assumed or "")


def routing_table(config: EngineConfig, region_key: str, day: date) -> list[Row]:
    """12345, the emergency numbers, every listed line, then every pattern (its regex)."""
    at = _noon(config, region_key, day)
    region = config.catalogue.regions[region_key]
    fixed = [region.main_number] + [e.number for e in config.catalogue.emergency]
    rows = [_row(decide(CallFacts(number=n, at=at, region=region_key), config), None)
            for n in fixed]
    for match in region_matches(config.catalogue, region_key):
        decision = decide_match(match, CallFacts(number=match.number, at=at, region=region_key),
                                config)
        rows.append(_row(decision, assumption_of(match, region)))
    return rows


@dataclass(frozen=True)
class Difference:
    """A number whose treatment differs between two dates."""

    before: Row
    after: Row


def table_diff(config: EngineConfig, region_key: str, start: date, end: date
               ) -> list[Difference]:
    """Numbers (and patterns) whose phase, prompts or target differ between two days."""
    before = routing_table(config, region_key, start)
    after = routing_table(config, region_key, end)
    return [Difference(old, new) for old, new in zip(before, after, strict=True)
            if old.treatment() != new.treatment()]
