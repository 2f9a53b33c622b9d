"""Finding the line a dialled number belongs to, and where it stands on a given date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from ivr.catalogue.model import (
    Catalogue,
    Line,
    MergeMode,
    PhaseSchedule,
    Region,
    Remark,
    RemarkKind,
    ScheduleKey,
    SubCenter,
    Window,
)


class Phase(StrEnum):
    """Where a line stands on a date."""

    ACTIVE = "active"
    TRANSITION = "transition"
    CANCELLED = "cancelled"
    NOT_YET_MERGED = "not_yet_merged"


@dataclass(frozen=True)
class LineMatch:
    """A catalogue line (or pattern) with the national defaults filled in."""

    number: str
    name: str
    mode: MergeMode
    domain: str
    plan_item: str
    department: str | None = None
    local: bool = False
    expert_seat: bool = False
    kept_seats_endpoint: str | None = None
    subcenter: SubCenter | None = None
    transition: Window | None = None
    cancelled_from: date | None = None
    active_from: date | None = None
    before_merge_endpoint: str | None = None
    remark: Remark | None = None
    prompt_text: str | None = None
    pattern: bool = False


def resolve_line(catalogue: Catalogue, line: Line) -> LineMatch:
    """Fill a region line's missing name and domain from the national baseline."""
    baseline = next((n for n in catalogue.national if n.number == line.number), None)
    name = line.name or (baseline.name if baseline else line.number)
    domain = line.domain or (baseline.domain if baseline else "general")
    return LineMatch(
        number=line.number, name=name, mode=line.mode, domain=domain,
        plan_item=line.plan_item, department=line.department, local=line.local,
        expert_seat=line.expert_seat, kept_seats_endpoint=line.kept_seats_endpoint,
        subcenter=line.subcenter, transition=line.transition,
        cancelled_from=line.cancelled_from, active_from=line.active_from,
        before_merge_endpoint=line.before_merge_endpoint, remark=line.remark,
        prompt_text=line.prompt_text,
    )


def find_line(catalogue: Catalogue, region_key: str, number: str) -> LineMatch | None:
    """The line ``number`` belongs to in a region: listed lines first, then patterns."""
    region = catalogue.regions[region_key]
    for line in region.lines:
        if line.number == number:
            return resolve_line(catalogue, line)
    for pattern in region.patterns:
        if pattern.matches(number):
            return LineMatch(number=number, name=pattern.name, mode=pattern.mode,
                             domain=pattern.domain, plan_item=pattern.plan_item,
                             local=pattern.local, pattern=True)
    return None


def whole_merge_schedule(match: LineMatch, region: Region) -> tuple[Window, date]:
    """The transition window and cancellation date that apply to a whole-merge line."""
    base: PhaseSchedule = (region.schedule.local_whole_merge if match.local
                           else region.schedule.national_whole_merge)
    window = match.transition or base.transition
    cancelled = match.cancelled_from or base.cancelled_from
    return window, cancelled


def already_merged(match: LineMatch, region: Region) -> bool:
    """备注 已归并到12345: the line already reaches 12345, before any window opens."""
    remark = match.remark
    return remark is not None and remark.kind is RemarkKind.MERGED_INTO \
        and remark.number == region.main_number


def start_of(match: LineMatch, region: Region) -> date | None:
    """The day a dual-number or sub-center line's 12345 handling starts."""
    return match.active_from or (
        region.schedule.dual_number_from if match.mode is MergeMode.DUAL_NUMBER
        else region.schedule.sub_center_from
    )


def schedule_key(match: LineMatch) -> ScheduleKey | None:
    """The region date a line follows, or None when it carries its own dates."""
    if match.mode is MergeMode.WHOLE_MERGE:
        if match.transition is not None and match.cancelled_from is not None:
            return None
        return ScheduleKey.LOCAL_WHOLE_MERGE if match.local else ScheduleKey.NATIONAL_WHOLE_MERGE
    if match.active_from is not None:
        return None
    return (ScheduleKey.DUAL_NUMBER_FROM if match.mode is MergeMode.DUAL_NUMBER
            else ScheduleKey.SUB_CENTER_FROM)


def phase_of(match: LineMatch, region: Region, today: date) -> Phase:
    """Where a line stands on ``today`` (the region's local date).

    已暂停服务 is cancelled whatever the date; 已归并到12345 is in transition (both
    numbers reach 12345, the old one with its prompt) until the line is cancelled.
    """
    remark = match.remark
    if match.mode is MergeMode.WHOLE_MERGE:
        if remark is not None and remark.kind is RemarkKind.SUSPENDED:
            return Phase.CANCELLED
        window, cancelled = whole_merge_schedule(match, region)
        if today >= cancelled:
            return Phase.CANCELLED
        if today < window.start and not already_merged(match, region):
            return Phase.NOT_YET_MERGED
        return Phase.TRANSITION
    start = start_of(match, region)
    if start is not None and today < start:
        return Phase.NOT_YET_MERGED
    return Phase.ACTIVE
