"""Summaries the benchmarks report: median, p95, extremes of a list of timings."""

from __future__ import annotations

import statistics


def summary(values: list[float]) -> dict[str, float]:
    """``n``, ``median``, ``p95``, ``min`` and ``max`` of ``values`` (just ``n`` when empty)."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "median": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "min": ordered[0], "max": ordered[-1]}
