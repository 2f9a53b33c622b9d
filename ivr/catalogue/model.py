"""The merger catalogue schema: every hotline a regional plan names and how it merges.

The models are strict (unknown keys rejected) and frozen. Cross-record rules that
a single field cannot express (duplicate numbers, window order, plan counts) live
in :mod:`ivr.catalogue.checks`, which reports them with file and line.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from ivr.config.validate import StrictModel

EMERGENCY_NUMBERS = frozenset({"110", "119", "120", "122"})


def _digits(value: str) -> str:
    if not re.fullmatch(r"[0-9]{3,12}", value):
        raise ValueError("a phone number is 3 to 12 digits, written as a quoted string")
    return value


Number = Annotated[str, AfterValidator(_digits)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]*$")]


class MergeMode(StrEnum):
    """How a legacy line joins 12345 (国办发〔2020〕53号)."""

    WHOLE_MERGE = "whole_merge"  # 整体并入
    DUAL_NUMBER = "dual_number"  # 双号并行
    SUB_CENTER = "sub_center"  # 设分中心


class SeatPolicy(StrEnum):
    """Fujian splits dual-number lines into seats kept and seats cancelled."""

    KEPT = "kept"  # 保留座席: the line's own seats answer, 12345 is the fallback
    CANCELLED = "cancelled"  # 取消座席: 12345 agents answer


class RemarkKind(StrEnum):
    """Plan remarks that change how a call is handled."""

    SUSPENDED = "suspended"  # 已暂停服务 / 已取消: treated as already cancelled
    MERGED_INTO = "merged_into"  # 已归并到 12345 / 12315: handled as that line
    ANSWERED_BY = "answered_by"  # 由119兼职接听: before merging, that number answers it
    NOTE = "note"  # informative only


class SubCenterLevel(StrEnum):
    """Which level runs the sub-center (Chenzhou distinguishes them)."""

    PROVINCIAL = "provincial"
    CITY = "city"


class Window(StrictModel):
    """A transition period, both ends inclusive, in the region's local dates."""

    start: date
    end: date


class Remark(StrictModel):
    """A remark from the plan's 备注 column."""

    kind: RemarkKind
    text: str = Field(description="the remark as the plan words it")
    number: Number | None = None

    @model_validator(mode="after")
    def _number_when_needed(self) -> Remark:
        if self.kind in (RemarkKind.MERGED_INTO, RemarkKind.ANSWERED_BY) and self.number is None:
            raise ValueError(f"a '{self.kind}' remark needs 'number'")
        return self


class SubCenter(StrictModel):
    """Where a sub-center line is transferred to."""

    level: SubCenterLevel
    endpoint: Identifier = Field(description="a name under 'endpoints' in routing_rules.yaml")
    operator: str | None = None


class NationalLine(StrictModel):
    """A line named in the national guidance, with the domain its calls belong to."""

    number: Number
    name: str
    domain: Identifier


class EmergencyLine(StrictModel):
    """An emergency number that is never merged into 12345."""

    number: Number
    name: str
    service: Identifier


class Line(StrictModel):
    """One line of a regional merger list (归并清单)."""

    number: Number
    name: str | None = None  # defaults to the national baseline name
    department: str | None = None  # 责任单位 (blank for some sub-centers)
    mode: MergeMode
    domain: Identifier | None = None  # defaults to the national baseline domain
    plan_item: str = Field(description="where the plan lists it, e.g. '附件 一、整体并入 第3项'")
    local: bool = False  # a locally created line rather than a national one
    expert_seat: bool = False  # 设专家座席
    seats: SeatPolicy | None = None
    kept_seats_endpoint: Identifier | None = None
    moved_from: MergeMode | None = None  # e.g. Fujian's low-volume dual lines
    subcenter: SubCenter | None = None
    transition: Window | None = None  # overrides the region schedule
    cancelled_from: date | None = None  # overrides the region schedule
    active_from: date | None = None  # dual/sub-center: when 12345 handling starts
    before_merge_endpoint: Identifier | None = None  # the old line's own handling
    remark: Remark | None = None
    prompt_text: str | None = None  # overrides the transition prompt template

    @model_validator(mode="after")
    def _mode_specific(self) -> Line:
        if self.mode is MergeMode.SUB_CENTER and self.subcenter is None:
            raise ValueError("a sub_center line needs 'subcenter' with an 'endpoint'")
        if self.mode is not MergeMode.SUB_CENTER and self.subcenter is not None:
            raise ValueError("'subcenter' is only for sub_center lines")
        if self.seats is not None and self.mode is not MergeMode.DUAL_NUMBER:
            raise ValueError("'seats' is only for dual_number lines")
        if self.seats is SeatPolicy.KEPT and self.kept_seats_endpoint is None:
            raise ValueError("lines with seats 'kept' need 'kept_seats_endpoint'")
        if self.mode is not MergeMode.WHOLE_MERGE and (
            self.transition is not None or self.cancelled_from is not None
        ):
            raise ValueError("'transition' and 'cancelled_from' are only for whole_merge lines")
        if self.transition is not None and self.transition.end < self.transition.start:
            raise ValueError("transition window ends before it starts")
        return self


class LinePattern(StrictModel):
    """A class of lines the plan names without numbers ('all locally created hotlines')."""

    name: str
    regex: str = Field(description="full-match regular expression over the dialled number")
    mode: MergeMode = MergeMode.WHOLE_MERGE
    domain: Identifier = "general"
    plan_item: str
    local: bool = True
    # Numbers the regex would match but the plan keeps apart (utility partners, …).
    excludes: list[Number] = []
    # Whether the plan's own list numbers this entry among its stated counts (Anhui 第1项,
    # Sichuan's list entry); a sentence outside the list (Inner Mongolia 二（一）1) is not.
    counted: bool = True

    @model_validator(mode="after")
    def _compiles(self) -> LinePattern:
        try:
            re.compile(self.regex)
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from exc
        return self

    def matches(self, number: str) -> bool:
        """Whether the pattern covers ``number`` (its regex, less its exclusions)."""
        return number not in self.excludes and re.fullmatch(self.regex, number) is not None


class PhaseSchedule(StrictModel):
    """When one class of whole-merge lines enters transition and is cancelled."""

    transition: Window
    cancelled_from: date


class ScheduleKey(StrEnum):
    """The dates of a region's schedule (the keys ``assumed`` may name)."""

    NATIONAL_WHOLE_MERGE = "national_whole_merge"
    LOCAL_WHOLE_MERGE = "local_whole_merge"
    DUAL_NUMBER_FROM = "dual_number_from"
    SUB_CENTER_FROM = "sub_center_from"


class Schedule(StrictModel):
    """A region's dates; lines may override their own.

    ``assumed`` names the dates the plan does not state (it gives only a deadline), each
    with the plan sentence the assumption rests on (docs/catalogue.md, "Unstated dates").
    """

    national_whole_merge: PhaseSchedule
    local_whole_merge: PhaseSchedule
    dual_number_from: date | None = None
    sub_center_from: date | None = None
    assumed: dict[ScheduleKey, str] = {}

    @model_validator(mode="after")
    def _assumed_dates_exist(self) -> Schedule:
        for key in self.assumed:
            if getattr(self, key.value) is None:
                raise ValueError(f"assumed: {key.value} has no date to assume")
        return self


class ScheduleOverride(StrictModel):
    """A deployment's own region-level dates (routing_rules.yaml ``deployment.schedule``).

    Each key given replaces the plan's date and confirms it: it is no longer assumed.
    """

    national_whole_merge: PhaseSchedule | None = None
    local_whole_merge: PhaseSchedule | None = None
    dual_number_from: date | None = None
    sub_center_from: date | None = None

    def apply(self, schedule: Schedule) -> Schedule:
        """``schedule`` with these dates in place and no longer marked assumed."""
        given = self.model_dump(exclude_none=True)
        given = {key: getattr(self, key) for key in given}
        assumed = {k: v for k, v in schedule.assumed.items() if k.value not in given}
        return schedule.model_copy(update={**given, "assumed": assumed})


class PlanCounts(StrictModel):
    """The counts the plan itself states; the loader checks the list against them."""

    whole_merge: int
    dual_number: int
    sub_center: int


class Region(StrictModel):
    """One regional plan (a seed)."""

    name: str
    document: str
    issued: date
    timezone: str = "Asia/Shanghai"
    main_number: Number = "12345"
    counts: PlanCounts
    schedule: Schedule
    lines: list[Line]
    patterns: list[LinePattern] = []
    notes: list[str] = []


class Catalogue(StrictModel):
    """The whole ``merger_catalogue.yaml``."""

    version: int = Field(ge=1, le=1)
    emergency: list[EmergencyLine]
    national: list[NationalLine]
    regions: dict[Identifier, Region]
