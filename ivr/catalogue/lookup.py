"""Finding the line a dialled number belongs to, and where it stands on a given date."""

from __future__ import annotations

import re
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
        if re.fullmatch(pattern.regex, number):
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


def phase_of(match: LineMatch, region: Region, today: date) -> Phase:
    """Where a line stands on ``today`` (the region's local date)."""
    remark = match.remark
    if match.mode is MergeMode.WHOLE_MERGE:
        if remark is not None and (
            remark.kind is RemarkKind.SUSPENDED
            or (remark.kind is RemarkKind.MERGED_INTO and remark.number == region.main_number)
        ):
            return Phase.CANCELLED
        window, cancelled = whole_merge_schedule(match, region)
        if today < window.start:
            return Phase.NOT_YET_MERGED
        if today >= cancelled:
            return Phase.CANCELLED
        return Phase.TRANSITION
    start = match.active_from or (
        region.schedule.dual_number_from if match.mode is MergeMode.DUAL_NUMBER
        else region.schedule.sub_center_from
    )
    if start is not None and today < start:
        return Phase.NOT_YET_MERGED
    return Phase.ACTIVE
