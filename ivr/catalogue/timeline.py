"""A region's catalogue over time: dated changes and the dates the plan does not state.

Pure functions over the validated catalogue (no I/O, no routing rules): what changes on
which day, for which line, under which plan item, and whether that date is assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ivr.catalogue.lookup import (
    LineMatch,
    Phase,
    phase_of,
    resolve_line,
    schedule_key,
    start_of,
    whole_merge_schedule,
)
from ivr.catalogue.model import Catalogue, LinePattern, MergeMode, Region, ScheduleKey

#: The order phases are listed in when several lines change on one day.
_PHASE_ORDER = {Phase.NOT_YET_MERGED: 0, Phase.ACTIVE: 1, Phase.TRANSITION: 2,
                Phase.CANCELLED: 3}


@dataclass(frozen=True)
class Change:
    """One line (or pattern) entering a phase on a day."""

    day: date
    number: str  # the number, or a pattern's regex
    name: str
    mode: MergeMode
    phase: Phase  # the phase entered on ``day``
    plan_item: str
    assumed: str | None = None  # the plan sentence the date rests on, when it is assumed
    pattern: bool = False
    remark: str | None = None  # the plan's 备注, on the entry for the plan's issue date


@dataclass(frozen=True)
class AssumedDate:
    """A region date the plan does not state, and what it rests on."""

    key: ScheduleKey
    dates: str
    basis: str
    followers: int  # lines and patterns whose handling follows this date


def pattern_match(pattern: LinePattern) -> LineMatch:
    """A pattern as a line: its regex stands for the number."""
    return LineMatch(number=pattern.regex, name=pattern.name, mode=pattern.mode,
                     domain=pattern.domain, plan_item=pattern.plan_item, local=pattern.local,
                     pattern=True)


def region_matches(catalogue: Catalogue, region_key: str) -> list[LineMatch]:
    """Every listed line, then every pattern, of a region, with defaults filled in."""
    region = catalogue.regions[region_key]
    return ([resolve_line(catalogue, line) for line in region.lines]
            + [pattern_match(p) for p in region.patterns])


def _edges(match: LineMatch, region: Region) -> list[date]:
    if match.mode is MergeMode.WHOLE_MERGE:
        window, cancelled = whole_merge_schedule(match, region)
        return [window.start, cancelled]
    start = start_of(match, region)
    return [start] if start is not None else []


def assumption_of(match: LineMatch, region: Region) -> str | None:
    """The plan sentence a line's dates rest on, when they are assumed (else None)."""
    key = schedule_key(match)
    return region.schedule.assumed.get(key) if key is not None else None


def line_changes(match: LineMatch, region: Region) -> list[Change]:
    """The days on which one line's phase changes, in order.

    A line already merged, cancelled or active when the plan is issued (备注 已暂停服务,
    已归并到12345, …) gets a first entry on the issue date, with the remark.
    """
    changes = []
    issued = phase_of(match, region, region.issued)
    if issued is not Phase.NOT_YET_MERGED:
        changes.append(Change(region.issued, match.number, match.name, match.mode, issued,
                              match.plan_item, None, match.pattern,
                              match.remark.text if match.remark else None))
    for day in sorted(d for d in set(_edges(match, region)) if d > region.issued):
        before, after = phase_of(match, region, day - timedelta(days=1)), \
            phase_of(match, region, day)
        if before is not after:
            changes.append(Change(day, match.number, match.name, match.mode, after,
                                  match.plan_item, assumption_of(match, region), match.pattern))
    return changes


def timeline(catalogue: Catalogue, region_key: str) -> list[Change]:
    """Every dated change of a region, by day, then phase, then catalogue order."""
    region = catalogue.regions[region_key]
    indexed = [(i, change) for i, match in enumerate(region_matches(catalogue, region_key))
               for change in line_changes(match, region)]
    indexed.sort(key=lambda item: (item[1].day, _PHASE_ORDER[item[1].phase], item[0]))
    return [change for _, change in indexed]


def _describe(region: Region, key: ScheduleKey) -> str:
    value = getattr(region.schedule, key.value)
    if key in (ScheduleKey.NATIONAL_WHOLE_MERGE, ScheduleKey.LOCAL_WHOLE_MERGE):
        return (f"transition {value.transition.start}..{value.transition.end}, "
                f"cancelled from {value.cancelled_from}")
    return f"from {value}"


def assumed_dates(catalogue: Catalogue, region_key: str) -> list[AssumedDate]:
    """The region's assumed dates, in schedule order, with how many lines follow each."""
    region = catalogue.regions[region_key]
    matches = region_matches(catalogue, region_key)
    return [AssumedDate(key, _describe(region, key), basis,
                        sum(1 for m in matches if schedule_key(m) is key))
            for key in ScheduleKey if (basis := region.schedule.assumed.get(key)) is not None]

