"""A report: the KPIs over a period, per group, the hourly curve, waits and merger traffic;
as text, CSV or JSON (HTML with plots: :mod:`ivr.reports.html`).  Pure: no I/O."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from ivr.reports.facts import CallFacts
from ivr.reports.kpi import (
    ANSWER_TARGET_S,
    CONNECTION_TARGET,
    LOCAL_ZONE,
    HourlyTally,
    Kpis,
    KpiTally,
    LineTraffic,
    MergerTally,
    group_key,
    merger_totals,
    wait_distribution,
)


@dataclass
class Report:
    """Everything ``hotline report`` shows."""

    since: datetime
    until: datetime
    by: str | None
    total: Kpis
    groups: dict[str, Kpis] = field(default_factory=dict)
    hourly: dict[int, dict[str, float | int | None]] = field(default_factory=dict)
    waits: dict[str, int] = field(default_factory=dict)
    merger: list[LineTraffic] = field(default_factory=list)
    merger_totals: dict[str, dict[str, int]] = field(default_factory=dict)
    target_s: float = ANSWER_TARGET_S
    connection_target: float = CONNECTION_TARGET

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON values."""
        return {
            "from": self.since.isoformat(), "to": self.until.isoformat(), "by": self.by,
            "targets": {"answer_within_s": self.target_s,
                        "connection_rate": self.connection_target},
            "total": self.total.to_json(),
            "groups": {name: k.to_json() for name, k in self.groups.items()},
            "hourly": {str(h): v for h, v in self.hourly.items()},
            "wait_distribution_s": self.waits,
            "merger_traffic": {"lines": [asdict(line) for line in self.merger],
                               "by_mode_and_phase": self.merger_totals},
        }


def build_report(calls: Iterable[CallFacts], since: datetime, until: datetime,
                 by: str | None = None, target_s: float = ANSWER_TARGET_S,
                 main_number: str = "12345", zone: tzinfo = LOCAL_ZONE) -> Report:
    """One pass over ``calls``: the totals, the groups, the curve, the waits, the lines."""
    total = KpiTally(target_s)
    hourly = HourlyTally(zone, target_s)
    merger = MergerTally(main_number, zone)
    key = group_key(by, zone) if by else None
    groups: dict[str, KpiTally] = {}
    for call in calls:
        total.add(call)
        hourly.add(call)
        merger.add(call)
        if key is not None:
            name = key(call)
            tally = groups.get(name)
            if tally is None:
                tally = groups[name] = KpiTally(target_s)
            tally.add(call)
    lines = merger.lines_by_traffic()
    return Report(since=since, until=until, by=by, total=total.kpis(),
                  groups={name: groups[name].kpis() for name in sorted(groups)},
                  hourly=hourly.curve(), waits=wait_distribution(total.waits),
                  merger=lines, merger_totals=merger_totals(lines), target_s=target_s)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


#: (label, how to show it) for every KPI row, in the order a supervisor reads them
ROWS: tuple[tuple[str, str], ...] = (
    ("offered", "呼入 calls offered"),
    ("queued", "进入队列 queued"),
    ("answered", "人工接听 answered"),
    ("answered_within_target_share", "15秒接通率 answered within 15 s"),
    ("connection_rate", "24小时接通率 connection rate"),
    ("abandoned", "放弃 abandoned"),
    ("abandoned_within_target", "  15秒内放弃 within 15 s"),
    ("abandoned_after_target", "  15秒后放弃 after 15 s"),
    ("requeue_abandoned", "转接后放弃 abandoned after a transfer"),
    ("avg_wait_s", "平均等待 average wait"),
    ("p90_wait_s", "90%等待 p90 wait"),
    ("avg_talk_s", "平均通话 average talk"),
    ("fallback", "兜底席 fallback desk"),
    ("callbacks_requested", "回拨登记 callbacks requested"),
    ("workorders", "工单 work orders"),
    ("pre_classified_share", "语音预分类 pre-classified on speech"),
    ("rated_share", "评价率 rated (of surveyed)"),
    ("satisfaction", "满意率 satisfaction"),
    ("bad_ratings", "差评 bad ratings"),
    ("callbacks_made", "回拨 callbacks made"),
    ("callbacks_connected", "回拨接通 callbacks connected"),
)


def show(name: str, kpis: Kpis) -> str:
    """One KPI as text (shares in %, times in s)."""
    value = getattr(kpis, name)
    if name.endswith("_share") or name in ("connection_rate", "satisfaction"):
        return _pct(value)
    if name.endswith("_s"):
        return _s(value)
    return str(value)


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _left(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def render_text(report: Report) -> str:
    """A plain-text report for a terminal."""
    out = [f"12345 report {report.since.isoformat()} – {report.until.isoformat()}", ""]
    columns = [("total", report.total), *report.groups.items()]
    width = max(_width(label) for _, label in ROWS) + 2
    col = max(10, *(len(name) + 2 for name, _ in columns))
    out.append(" " * width + "".join(f"{name:>{col}}" for name, _ in columns))
    for field_name, label in ROWS:
        out.append(_left(label, width) + "".join(f"{show(field_name, k):>{col}}"
                                                 for _, k in columns))
    for name, k in columns:
        if k.transfers:
            out.append(f"transfers ({name}): " + ", ".join(f"{o} {n}" for o, n in k.transfers.items()))
    out.append(f"targets: answered within {report.target_s:.0f} s; connection rate >= "
               f"{report.connection_target:.0%}")
    out += ["", "merger traffic (legacy numbers still dialled):"]
    if not report.merger:
        out.append("  none")
    for line in report.merger:
        phases = ", ".join(f"{p} {n}" for p, n in line.phases.items())
        out.append(f"  {line.number:<8} {line.line_name or '-'} [{line.mode}] {line.calls} calls "
                   f"({phases}); last {line.last_call}")
    for mode, by_phase in report.merger_totals.items():
        out.append(f"  {mode}: " + ", ".join(f"{p} {n}" for p, n in by_phase.items()))
    return "\n".join(out) + "\n"


def render_csv(report: Report) -> str:
    """One row per group (``total`` first), every KPI a column; transfers as ``transfers_<outcome>``."""
    columns = [("total", report.total), *report.groups.items()]
    outcomes = sorted({o for _, k in columns for o in k.transfers})
    fields = [name for name, _ in ROWS if name != "queued"]
    fields.insert(1, "queued")
    header = ["group", *fields, "answered_within_target", *(f"transfers_{o}" for o in outcomes)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for name, k in columns:
        row: list[Any] = [name]
        for f in fields:
            value = getattr(k, f)
            row.append("" if value is None else (round(value, 4) if isinstance(value, float) else value))
        row.append(k.answered_within_target)
        row += [k.transfers.get(o, 0) for o in outcomes]
        writer.writerow(row)
    return buf.getvalue()


def render_json(report: Report) -> str:
    """The report as one JSON document."""
    return json.dumps(report.to_json(), ensure_ascii=False, indent=1) + "\n"
