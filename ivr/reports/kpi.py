"""The KPIs of a set of calls, grouped or not, and the merger traffic (pure: no I/O).

Targets from GB/T 33358-2016 (热线服务规范): calls answered within 15 s, and a 24-hour
connection rate of at least 95 %.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ivr.reports.facts import CallFacts

ANSWER_TARGET_S = 15.0
SATISFIED_LEVELS = (1, 2, 3)  # 非常满意, 满意, 基本满意; 4 and 5 are 差评
CONNECTION_TARGET = 0.95
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")

GroupBy = Literal["hour", "day", "skill", "line", "agent"]
GROUPINGS: tuple[str, ...] = ("hour", "day", "skill", "line", "agent")


def percentile(values: Iterable[float], share: float) -> float | None:
    """The nearest-rank percentile (p90: the smallest value with 90 % at or below it)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class Kpis:
    """The figures a 12345 centre is judged by, over one set of calls."""

    offered: int = 0
    queued: int = 0
    answered: int = 0
    answered_within_target: int = 0
    answered_within_target_share: float | None = None  # over queued calls
    connected: int = 0
    connection_rate: float | None = None  # connected / offered, every hour of the day
    abandoned: int = 0
    abandoned_within_target: int = 0  # hung up after waiting at most 15 s
    abandoned_after_target: int = 0
    requeue_abandoned: int = 0  # answered, back in a queue after a transfer, hung up there
    avg_wait_s: float | None = None
    p90_wait_s: float | None = None
    avg_talk_s: float | None = None
    fallback: int = 0
    callbacks_requested: int = 0
    transfers: dict[str, int] = field(default_factory=dict)
    workorders: int = 0
    listened: int = 0
    pre_classified: int = 0
    pre_classified_share: float | None = None  # over offered calls
    surveyed: int = 0  # callers who heard the post-call rating prompt
    rated: int = 0
    rated_share: float | None = None  # over surveyed calls
    ratings: dict[str, int] = field(default_factory=dict)  # level "1".."5" -> calls
    bad_ratings: int = 0  # 不满意 + 非常不满意 (差评): each one is followed up
    satisfaction: float | None = None  # (非常满意 + 满意 + 基本满意) / rated
    callbacks_made: int = 0  # attempts dialled
    callbacks_connected: int = 0  # calls whose callback reached the caller
    target_s: float = ANSWER_TARGET_S

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (rates as fractions, times in seconds)."""
        return asdict(self)


class KpiTally:
    """Adds calls one at a time (a report streams a million of them); :meth:`kpis` at the end."""

    def __init__(self, target_s: float = ANSWER_TARGET_S) -> None:
        self.k = Kpis(target_s=target_s)
        self.waits: list[float] = []
        self.talk_total_s = 0.0
        self.talked = 0
        self.transfers: Counter[str] = Counter()
        self.levels: Counter[int] = Counter()

    def add(self, call: CallFacts) -> None:
        """Count one call."""
        k = self.k
        k.offered += call.offered
        k.queued += call.queued
        if call.answered:
            k.answered += 1
            if call.wait_s is not None:
                self.waits.append(call.wait_s)
                k.answered_within_target += call.wait_s <= k.target_s
        k.connected += call.connected
        if call.abandoned:
            k.abandoned += 1
            if (call.abandon_wait_s or 0.0) <= k.target_s:
                k.abandoned_within_target += 1
            else:
                k.abandoned_after_target += 1
        k.requeue_abandoned += call.requeue_abandoned
        if call.talk_s is not None:
            self.talk_total_s += call.talk_s
            self.talked += 1
        k.fallback += call.fallback
        k.callbacks_requested += call.callback_requested
        if call.transfers:
            self.transfers.update(call.transfers)
        k.workorders += call.workorders
        k.listened += call.listened
        k.pre_classified += call.pre_classified
        k.surveyed += call.surveyed
        if call.rating is not None:
            self.levels[call.rating] += 1
        k.callbacks_made += call.callbacks_made
        k.callbacks_connected += call.callback_connected

    def kpis(self) -> Kpis:
        """The figures so far (rates, averages and p90 computed now)."""
        k = self.k
        k.answered_within_target_share = _share(k.answered_within_target, k.queued)
        k.connection_rate = _share(k.connected, k.offered)
        k.pre_classified_share = _share(k.pre_classified, k.offered)
        k.avg_wait_s = _mean(self.waits)
        k.p90_wait_s = percentile(self.waits, 0.9)
        k.avg_talk_s = self.talk_total_s / self.talked if self.talked else None
        k.transfers = dict(sorted(self.transfers.items()))
        k.rated = sum(self.levels.values())
        k.rated_share = _share(k.rated, k.surveyed)
        k.ratings = {str(level): self.levels[level] for level in sorted(self.levels)}
        k.bad_ratings = self.levels[4] + self.levels[5]
        k.satisfaction = _share(sum(self.levels[n] for n in SATISFIED_LEVELS), k.rated)
        return k


def compute(calls: Iterable[CallFacts], target_s: float = ANSWER_TARGET_S) -> Kpis:
    """The KPIs of ``calls``."""
    tally = KpiTally(target_s)
    for call in calls:
        tally.add(call)
    return tally.kpis()


def group_key(by: str, zone: tzinfo = LOCAL_ZONE) -> Callable[[CallFacts], str]:
    """The key a call is grouped under: its local hour or day (by when it started), its
    skill, its dialled line, or the agent who answered it (``-`` when none)."""
    if by == "hour":
        return lambda c: c.start.astimezone(zone).strftime("%Y-%m-%d %H:00")
    if by == "day":
        return lambda c: c.start.astimezone(zone).strftime("%Y-%m-%d")
    if by == "skill":
        return lambda c: c.skill or "-"
    if by == "line":
        return lambda c: c.number or "-"
    if by == "agent":
        return lambda c: c.agent or "-"
    raise ValueError(f"cannot group by {by!r} (one of {', '.join(GROUPINGS)})")


def grouped(calls: Iterable[CallFacts], by: str, target_s: float = ANSWER_TARGET_S,
            zone: tzinfo = LOCAL_ZONE) -> dict[str, Kpis]:
    """The KPIs per group, groups in key order."""
    key = group_key(by, zone)
    groups: dict[str, KpiTally] = {}
    for call in calls:
        name = key(call)
        tally = groups.get(name)
        if tally is None:
            tally = groups[name] = KpiTally(target_s)
        tally.add(call)
    return {name: groups[name].kpis() for name in sorted(groups)}


@dataclass
class LineTraffic:
    """Calls still dialled to one number, by how its line was treated."""

    number: str
    line_name: str | None
    mode: str | None
    phases: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    last_call: str | None = None  # local time of the latest call


class MergerTally:
    """Calls per legacy number (every dialled number but the main one), added one at a time."""

    def __init__(self, main_number: str = "12345", zone: tzinfo = LOCAL_ZONE) -> None:
        self.main_number = main_number
        self.zone = zone
        self.lines: dict[str, LineTraffic] = {}
        self.latest: dict[str, datetime] = {}

    def add(self, call: CallFacts) -> None:
        """Count one call (calls to the main number, or undecided, are not counted)."""
        if not call.offered or call.number is None or call.number == self.main_number:
            return
        line = self.lines.get(call.number)
        if line is None:
            line = self.lines[call.number] = LineTraffic(call.number, call.line_name, call.mode)
        line.calls += 1
        phase = call.phase or "-"
        line.phases[phase] = line.phases.get(phase, 0) + 1
        if call.number not in self.latest or call.start > self.latest[call.number]:
            self.latest[call.number] = call.start

    def lines_by_traffic(self) -> list[LineTraffic]:
        """Every legacy number, busiest first."""
        for number, line in self.lines.items():
            line.last_call = self.latest[number].astimezone(self.zone).isoformat(timespec="minutes")
            line.phases = dict(sorted(line.phases.items()))
        return sorted(self.lines.values(), key=lambda t: (-t.calls, t.number))


def merger_traffic(calls: Iterable[CallFacts], main_number: str = "12345",
                   zone: tzinfo = LOCAL_ZONE) -> list[LineTraffic]:
    """Per legacy number: calls by mode and phase, busiest first.  ``transition`` callers
    still use a whole-merge line that will be cancelled; ``cancelled`` callers reached a
    number already cancelled."""
    tally = MergerTally(main_number, zone)
    for call in calls:
        tally.add(call)
    return tally.lines_by_traffic()


def merger_totals(lines: Iterable[LineTraffic]) -> dict[str, dict[str, int]]:
    """Calls per mode and phase over every legacy number: ``{mode: {phase: calls}}``."""
    totals: dict[str, Counter[str]] = {}
    for line in lines:
        totals.setdefault(line.mode or "-", Counter()).update(line.phases)
    return {mode: dict(sorted(c.items())) for mode, c in sorted(totals.items())}


class HourlyTally:
    """Per local hour of the day (0–23), over every day of the period: the load curve."""

    def __init__(self, zone: tzinfo = LOCAL_ZONE, target_s: float = ANSWER_TARGET_S) -> None:
        self.zone = zone
        self.hours = [KpiTally(target_s) for _ in range(24)]

    def add(self, call: CallFacts) -> None:
        """Count one call in the hour it started."""
        self.hours[call.start.astimezone(self.zone).hour].add(call)

    def curve(self) -> dict[int, dict[str, float | int | None]]:
        """Calls offered and answered and the 15 s share, per hour."""
        out: dict[int, dict[str, float | int | None]] = {}
        for hour, tally in enumerate(self.hours):
            k = tally.kpis()
            out[hour] = {"offered": k.offered, "answered": k.answered,
                         "within_target_share": k.answered_within_target_share}
        return out


def hourly_load(calls: Iterable[CallFacts], zone: tzinfo = LOCAL_ZONE,
                target_s: float = ANSWER_TARGET_S) -> dict[int, dict[str, float | int | None]]:
    """Per hour of the day (0–23, local): calls offered, answered and the 15 s share."""
    tally = HourlyTally(zone, target_s)
    for call in calls:
        tally.add(call)
    return tally.curve()


#: upper bounds (s) of the wait distribution's buckets; the last bucket is open
WAIT_BUCKETS_S: tuple[int, ...] = (5, 10, 15, 20, 30, 45, 60, 120)


def wait_distribution(waits: Iterable[float]) -> dict[str, int]:
    """Answered calls per wait bucket (``0-5``, ``5-10`` … ``>120`` s)."""
    labels = [f"{lo}-{hi}" for lo, hi in zip((0, *WAIT_BUCKETS_S), WAIT_BUCKETS_S, strict=False)]
    labels.append(f">{WAIT_BUCKETS_S[-1]}")
    counts = dict.fromkeys(labels, 0)
    for wait in waits:
        index = next((i for i, hi in enumerate(WAIT_BUCKETS_S) if wait <= hi), len(WAIT_BUCKETS_S))
        counts[labels[index]] += 1
    return counts
