"""A self-contained HTML page of the ACD snapshot, for a supervisor's screen."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font-family:sans-serif;margin:2em;color:#222}
.kpi{display:inline-block;margin:0 1.5em 1em 0;padding:.8em 1.2em;border-radius:6px;background:#f2f4f7}
.kpi b{display:block;font-size:1.8em}
.bad{background:#fde2e1}.good{background:#e3f6e8}
table{border-collapse:collapse;margin-top:1em}
td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:right}
th:first-child,td:first-child{text-align:left}
"""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_html(snapshot: dict[str, Any], refresh_s: int = 5) -> str:
    """The page: headline KPIs (coloured against GB/T 33358 targets), agents, queues."""
    sl = snapshot.get("service_level")
    ab = snapshot.get("abandon_rate")
    target = snapshot.get("service_level_target_s", 15)
    sl_class = "" if sl is None else ("good" if sl >= 0.95 else "bad")
    kpis = [
        ("waiting", str(snapshot.get("waiting", 0)), ""),
        ("longest wait", f"{snapshot.get('longest_wait_s', 0)} s",
         "bad" if snapshot.get("longest_wait_s", 0) > target else ""),
        (f"answered within {target:.0f} s", _pct(sl), sl_class),
        ("abandoned", _pct(ab), "" if ab is None else ("good" if ab <= 0.05 else "bad")),
        ("answered", str(snapshot.get("answered", 0)), ""),
    ]
    agents = snapshot.get("agents", {})
    rows = "".join(
        f"<tr><td>{escape(q['queue'])}</td><td>{q['waiting']}</td><td>{q['longest_wait_s']}</td>"
        f"<td>{q['offered']}</td><td>{q['answered']}</td><td>{q['abandoned']}</td>"
        f"<td>{_pct(q['service_level'])}</td></tr>"
        for q in snapshot.get("queues", []) if q["offered"] or q["waiting"])
    agent_rows = "".join(
        f"<tr><td>{escape(a['agent'])}</td><td>{escape(a['state'])}</td>"
        f"<td>{escape(a.get('pause_reason') or '')}</td><td>{a.get('calls_taken', 0)}</td></tr>"
        for a in snapshot.get("agent_list", []))
    return (
        "<!doctype html><html lang=zh><meta charset=utf-8>"
        f"<meta http-equiv=refresh content={refresh_s}><title>12345 ACD</title>"
        f"<style>{_STYLE}</style><h1>12345 热线 · queues</h1>"
        f"<p>{escape(str(snapshot.get('at', '')))}</p>"
        + "".join(f"<div class='kpi {c}'>{escape(k)}<b>{escape(v)}</b></div>" for k, v, c in kpis)
        + "<p>agents: " + escape(", ".join(f"{k} {v}" for k, v in sorted(agents.items())))
        + "</p><table><tr><th>queue</th><th>waiting</th><th>longest (s)</th><th>offered</th>"
        f"<th>answered</th><th>abandoned</th><th>service level</th></tr>{rows}</table>"
        "<table><tr><th>agent</th><th>state</th><th>pause reason</th><th>calls</th></tr>"
        f"{agent_rows}</table></html>\n"
    )
