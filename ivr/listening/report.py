"""How listening went, from the call records: pre-classification rate, the 15 s budget,
where callers were sent; as a dict (``--json``) or a self-contained HTML page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from html import escape
from typing import Any

from ivr.core.callstore import CallRecord

BUCKET_S = 1  # histogram of answer -> decision, one bar per second


def _percentile(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summarise(records: Iterable[CallRecord], budget_ms: int = 15_000) -> dict[str, Any]:
    """Listening figures over ``records`` (calls with a routing decision)."""
    decided = listened = 0
    outcomes: Counter[str] = Counter()
    targets: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    request_types: Counter[str] = Counter()
    emergencies: Counter[str] = Counter()
    out_of_scope: Counter[str] = Counter()
    budget: list[float] = []
    latency: list[float] = []
    for record in records:
        decision = record.first("decided")
        if decision is None:
            continue
        decided += 1
        if not decision.get("listening"):
            continue
        listened += 1
        step = record.first("classified")
        if step is None:
            outcomes["unrecorded"] += 1  # hung up while listening, or controller down
            continue
        outcomes[str(step.get("outcome"))] += 1
        if step.get("budget_used_ms") is not None and step.get("outcome") not in ("lost",):
            budget.append(float(step["budget_used_ms"]))
        speech = step.get("speech") or {}
        if speech.get("latency_ms") is not None:
            latency.append(float(speech["latency_ms"]))
        heard = step.get("classification") or {}
        if heard:
            domains[str(heard.get("domain"))] += 1
            request_types[str(heard.get("request_type"))] += 1
            if heard.get("emergency_number"):
                emergencies[str(heard["emergency_number"])] += 1
            if heard.get("out_of_scope"):
                out_of_scope[str(heard["out_of_scope"])] += 1
        target = step.get("queue") if step.get("target_kind") == "queue" else step.get("dial")
        if target:
            targets[str(target)] += 1
    budget.sort()
    latency.sort()
    specific = sum(n for d, n in domains.items() if d != "general") + sum(emergencies.values())
    histogram = Counter(int(ms // 1000 // BUCKET_S) * BUCKET_S for ms in budget)
    return {
        "calls": decided,
        "listened": listened,
        "pre_classified": specific,
        "pre_classified_share": specific / listened if listened else None,
        "outcomes": dict(outcomes.most_common()),
        "budget_ms": budget_ms,
        "within_budget": sum(1 for ms in budget if ms <= budget_ms),
        "within_budget_share": (sum(1 for ms in budget if ms <= budget_ms) / len(budget)
                                if budget else None),
        "answer_to_decision_ms": {"n": len(budget), "median": _percentile(budget, 0.5),
                                  "p95": _percentile(budget, 0.95),
                                  "max": budget[-1] if budget else None},
        "end_of_speech_to_decision_ms": {"n": len(latency), "median": _percentile(latency, 0.5),
                                         "p95": _percentile(latency, 0.95)},
        "histogram_s": {str(k): histogram[k] for k in sorted(histogram)},
        "targets": dict(targets.most_common()),
        "domains": dict(domains.most_common()),
        "request_types": dict(request_types.most_common()),
        "emergencies": dict(emergencies.most_common()),
        "out_of_scope": dict(out_of_scope.most_common()),
    }


_STYLE = """
body{font-family:sans-serif;margin:2em;color:#222}
.kpi{display:inline-block;margin:0 1.5em 1em 0;padding:.8em 1.2em;border-radius:6px;background:#f2f4f7}
.kpi b{display:block;font-size:1.8em}
.bad{background:#fde2e1}.good{background:#e3f6e8}
.bars{display:flex;align-items:flex-end;height:160px;gap:4px;margin:1em 0 .2em}
.bar{background:#4a78b5;width:28px}.over{background:#c44}
.axis{display:flex;gap:4px}.axis span{width:28px;text-align:center;font-size:.8em}
table{border-collapse:collapse;margin:1em 2em 0 0;display:inline-table;vertical-align:top}
td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:right}
th:first-child,td:first-child{text-align:left}
"""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.1f} s"


def _table(title: str, counts: dict[str, int]) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in counts.items())
    return f"<table><tr><th>{escape(title)}</th><th>calls</th></tr>{rows}</table>"


def render_html(summary: dict[str, Any]) -> str:
    """The page: KPIs against the 15 s budget, the answer -> decision histogram, the tables."""
    within = summary["within_budget_share"]
    budget_s = summary["budget_ms"] // 1000
    kpis = [
        ("calls routed", str(summary["calls"]), ""),
        ("listened to", str(summary["listened"]), ""),
        ("routed on speech", _pct(summary["pre_classified_share"]), ""),
        (f"decided within {budget_s} s", _pct(within),
         "" if within is None else ("good" if within >= 0.95 else "bad")),
        ("answer → decision, median", _ms(summary["answer_to_decision_ms"]["median"]), ""),
        ("end of speech → decision, median",
         "-" if summary["end_of_speech_to_decision_ms"]["median"] is None
         else f"{summary['end_of_speech_to_decision_ms']['median']:.0f} ms", ""),
    ]
    histogram = {int(k): v for k, v in summary["histogram_s"].items()}
    top = max(histogram.values(), default=1)
    seconds = range(0, max([budget_s, *histogram]) + 1, BUCKET_S)
    bars = "".join(
        f"<div class='bar{' over' if s >= budget_s else ''}' title='{s}-{s + BUCKET_S} s: "
        f"{histogram.get(s, 0)}' style='height:{160 * histogram.get(s, 0) // top}px'></div>"
        for s in seconds)
    axis = "".join(f"<span>{s}</span>" for s in seconds)
    return (
        "<!doctype html><html lang=zh><meta charset=utf-8><title>12345 listening</title>"
        f"<style>{_STYLE}</style><h1>12345 热线 · listening</h1>"
        + "".join(f"<div class='kpi {c}'>{escape(k)}<b>{escape(v)}</b></div>" for k, v, c in kpis)
        + "<h2>answer → routing decision (s)</h2>"
        f"<div class=bars>{bars}</div><div class=axis>{axis}</div>"
        + _table("outcome", summary["outcomes"]) + _table("routed to", summary["targets"])
        + _table("domain", summary["domains"]) + _table("request type", summary["request_types"])
        + _table("emergency", summary["emergencies"]) + _table("out of scope", summary["out_of_scope"])
        + "</html>\n"
    )
