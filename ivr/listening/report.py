"""How listening went, from the call records: pre-classification rate, the 15 s budget,
where callers were sent; as a dict (``--json``), or a page of the reports
(:mod:`ivr.reports.listening`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ivr.core.callstore import CallRecord

BUCKET_S = 1  # histogram of answer -> decision, one bar per second (the page's too)


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



def render_html(summary: dict[str, Any]) -> str:
    """The page, rendered by the reports (one page writer: :mod:`ivr.reports.listening`)."""
    from ivr.reports.listening import render_listening

    return render_listening(summary)
