"""The listening figures (:func:`ivr.listening.report.summarise`) as a page of the reports
(``hotline listening report --html``): the report pages' shell and cards, the answer →
decision histogram against the 15 s budget, where callers went."""

from __future__ import annotations

from html import escape
from typing import Any

from ivr.reports.html import kpi_cards, page

BUCKET_S = 1  # one bar per second

_STYLE = """
.bars{display:flex;align-items:flex-end;height:160px;gap:4px;margin:1em 0 .2em}
.bar{background:#4a78b5;width:28px}.over{background:#c44}
.axis{display:flex;gap:4px}.axis span{width:28px;text-align:center;font-size:.8em}
table{margin:1em 2em 0 0;display:inline-table;vertical-align:top}
"""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.1f} s"


def _table(title: str, counts: dict[str, int]) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in counts.items())
    return f"<table><tr><th>{escape(title)}</th><th>calls</th></tr>{rows}</table>"


def render_listening(summary: dict[str, Any]) -> str:
    """The page: KPIs against the budget, the answer -> decision histogram, the tables."""
    within = summary["within_budget_share"]
    budget_s = summary["budget_ms"] // 1000
    speech = summary["end_of_speech_to_decision_ms"]["median"]
    kpis = [
        ("calls routed", str(summary["calls"]), ""),
        ("listened to", str(summary["listened"]), ""),
        ("routed on speech", _pct(summary["pre_classified_share"]), ""),
        (f"decided within {budget_s} s", _pct(within),
         "" if within is None else ("good" if within >= 0.95 else "bad")),
        ("answer → decision, median", _ms(summary["answer_to_decision_ms"]["median"]), ""),
        ("end of speech → decision, median", "-" if speech is None else f"{speech:.0f} ms", ""),
    ]
    histogram = {int(k): v for k, v in summary["histogram_s"].items()}
    top = max(histogram.values(), default=1)
    seconds = range(0, max([budget_s, *histogram]) + 1, BUCKET_S)
    bars = "".join(
        f"<div class='bar{' over' if s >= budget_s else ''}' title='{s}-{s + BUCKET_S} s: "
        f"{histogram.get(s, 0)}' style='height:{160 * histogram.get(s, 0) // top}px'></div>"
        for s in seconds)
    axis = "".join(f"<span>{s}</span>" for s in seconds)
    return page(
        "12345 listening", "12345 热线 · 语音预分类 listening",
        kpi_cards(kpis) + "<h2>接听 → 路由决定 answer → routing decision (s)</h2>"
        f"<div class=bars>{bars}</div><div class=axis>{axis}</div>"
        + _table("outcome", summary["outcomes"]) + _table("routed to", summary["targets"])
        + _table("domain", summary["domains"]) + _table("request type", summary["request_types"])
        + _table("emergency", summary["emergencies"]) + _table("out of scope", summary["out_of_scope"]),
        style=_STYLE)
