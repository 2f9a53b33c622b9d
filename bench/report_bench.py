"""Report benchmark: how long ``hotline report`` takes over 10^5 and 10^6 recorded calls.

A call store is filled with the store's own bulk loader (``ivr.core.callstore.bulk``):
synthetic calls of ~6 steps, a realistic mix (answered within and after 15 s, abandoned,
a callback, transfers with work orders, legacy numbers in transition or cancelled), spread
over a month.  For each size the report is built three times over the whole period (no
grouping, ``--by day``, ``--by agent``) and once rendered as HTML (the four plots); the
ratio 10^6 / 10^5 shows whether the cost stays linear.

    .venv/bin/python bench/report_bench.py [--sizes 100000,1000000] [--quick]

Writes bench/results/report.json.

``--wallboard [--rate 50] [--seconds 20]``: the wallboard's update latency instead.  The
web feature's live board and server run in this process; a synthetic load of 50 calls/s
(decided, queued, ringing, answered, hangup: 250 events/s, plus each offered call's
caller history pushed to the desk: 300 board changes/s) is applied the way the feature's
subscriber applies it, and a logged-in supervisor's ``/events`` stream is read
over HTTP.  Latency: from an event being applied to the first server-sent message that
includes it (the page renders that message at once).  Writes bench/results/wallboard.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ivr.core.callstore.bulk import bulk_load  # noqa: E402
from ivr.core.callstore.schema import Row, step_row  # noqa: E402
from ivr.reports.html import render_html  # noqa: E402
from ivr.reports.report import build_report  # noqa: E402
from ivr.reports.source import period_facts  # noqa: E402

BJ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 3, 1, tzinfo=BJ)
DAYS = 30
LEGACY = [("12396", "whole_merge", "transition"), ("12358", "whole_merge", "cancelled"),
          ("12366", "sub_center", "active"), ("12369", "dual_number", "active")]


def call_steps(i: int) -> list[tuple[str, float, dict[str, Any]]]:
    """Call ``i``: (step, seconds after its start, fields)."""
    kind = i % 20
    number, mode, phase = ("12345", "main", "active") if kind >= 4 else LEGACY[kind]
    steps: list[tuple[str, float, dict[str, Any]]] = [
        ("decided", 0.0, {"number": number, "mode": mode, "phase": phase, "skill": "general",
                          "caller": f"138******{i % 100:02d}", "region": "sichuan",
                          "line_name": f"line {number}", "listening": i % 3 == 0})]
    if mode == "sub_center":
        return [*steps, ("dial", 0.5, {"kind": "subcenter"}),
                ("dial_result", 12.0, {"status": "ANSWER"}), ("hangup", 150.0, {})]
    if i % 3 == 0:
        steps.append(("classified", 6.0, {"outcome": "classified",
                                          "classification": {"domain": "tax" if i % 2 else "general"}}))
    steps.append(("queued", 7.0, {"queue": "hl-general"}))
    wait = (i * 7) % 40
    if i % 17 == 0:  # abandoned
        return [*steps, ("hangup", 7.0 + wait, {})]
    if i % 29 == 0:  # nobody logged in: a callback
        return [*steps, ("queue_result", 7.5, {"status": "JOINEMPTY"}),
                ("callback_requested", 9.0, {}), ("hangup", 10.0, {})]
    steps.append(("answered", 7.0 + wait, {"queue": "hl-general", "agent": f"10{i % 40:02d}",
                                           "hold_s": wait}))
    if i % 11 == 0:
        steps += [("transfer_requested", 60.0, {"transfer": f"t{i}"}),
                  ("transfer_failed", 90.0, {"transfer": f"t{i}", "outcome": "no_answer",
                                             "workorder": f"WO-{i}"})]
    return [*steps, ("hangup", 7.0 + wait + 60 + i % 300, {})]


def rows(size: int) -> Iterator[Row]:
    spacing = DAYS * 86400 / size
    for i in range(size):
        begin = T0 + timedelta(seconds=i * spacing)
        for step, offset, data in call_steps(i):
            yield step_row(f"{1740000000 + i}.{i % 9973}", step, begin + timedelta(seconds=offset),
                           data)


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def measure(size: int, workdir: Path) -> dict[str, Any]:
    path = workdir / f"calls-{size}.db"
    fill_s, steps = timed(lambda: bulk_load(path, rows(size)))
    print(f"{size:,} calls: {steps:,} steps loaded in {fill_s:.1f} s", flush=True)
    since, until = T0, T0 + timedelta(days=DAYS + 1)
    out: dict[str, Any] = {"calls": size, "steps": steps, "db_bytes": path.stat().st_size,
                           "fill_s": round(fill_s, 1)}
    for by in (None, "day", "agent"):
        seconds, report = timed(lambda by=by: build_report(period_facts(path, since, until),
                                                           since, until, by=by))
        assert report.total.offered == size, report.total.offered
        key = f"report_by_{by or 'none'}_s"
        out[key] = round(seconds, 2)
        print(f"  report --by {by or '-'}: {seconds:.2f} s ({size / seconds:,.0f} calls/s)",
              flush=True)
    seconds, page = timed(lambda: render_html(report))
    out["html_render_s"] = round(seconds, 2)
    out["html_bytes"] = len(page)
    print(f"  html render (4 plots): {seconds:.2f} s", flush=True)
    path.unlink()
    return out


async def wallboard_latency(rate: float, seconds: float) -> dict[str, Any]:
    """Event applied -> SSE message received, under ``rate`` calls/s."""
    import asyncio
    from datetime import UTC

    from aiohttp import ClientSession, CookieJar

    from ivr.core.events import call_event
    from ivr.web.app import WebApp, serve
    from ivr.web.board import LiveBoard
    from ivr.web.users import User, Users

    agents = [User(f"{2000 + i}", f"agent {i}", "agent", f"PJSIP/agent-{1000 + i}")
              for i in range(1, 41)]
    users = Users([*agents, User("9001", "supervisor", "supervisor")], {"9001": "pw"})
    board = LiveBoard(lambda: datetime.now(UTC), lambda: users.by_id)

    async def pause(_user: User, _paused: bool) -> str | None:
        return None

    app = WebApp(board, lambda: users, pause)
    port = 8399
    server = asyncio.create_task(serve(app.app, "127.0.0.1", port))
    applied: dict[int, float] = {}
    latencies: list[float] = []
    messages = 0

    async def read(session: ClientSession) -> None:
        nonlocal messages
        async with session.get(f"http://127.0.0.1:{port}/events") as resp:
            delivered = 0
            async for line in resp.content:
                if not line.startswith(b"data: "):
                    continue
                now = time.perf_counter()
                messages += 1
                version = json.loads(line[6:])["version"]
                for v in range(delivered + 1, version + 1):
                    if v in applied:
                        latencies.append(now - applied.pop(v))
                delivered = max(delivered, version)

    async def load() -> None:
        interval = 1.0 / rate
        start = time.perf_counter()
        i = 0
        live: list[tuple[str, int]] = []
        while time.perf_counter() - start < seconds:
            cid = f"c{i}"
            now = datetime.now(UTC)
            events = [call_event("decided", cid, now, {"number": "12345", "mode": "main",
                                                      "phase": "active", "caller": "138******00"}),
                      call_event("queued", cid, now, {"queue": "hl-general"})]
            live.append((cid, i))
            if len(live) > 3 * rate:  # calls end ~3 s after they start
                old, n = live.pop(0)
                events += [call_event("ringing", old, now, {"dest": f"PJSIP/agent-{1001 + n % 40}-1"}),
                           call_event("answered", old, now, {"agent": f"{2001 + n % 40}",
                                                             "queue": "hl-general", "hold_s": 3}),
                           call_event("hangup", old, now, {})]
            for event in events:
                board.handle(event)
                applied[board.version] = time.perf_counter()
                for offered in board.take_lookups():  # the desk's caller history, as the
                    board.set_history(offered, [], [])  # feature pushes it (store time aside)
                    applied[board.version] = time.perf_counter()
            i += 1
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))

    await asyncio.sleep(0.5)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:  # 127.0.0.1 cookies
        await session.post(f"http://127.0.0.1:{port}/login", data={"user": "9001", "password": "pw"})
        reader = asyncio.create_task(read(session))
        await asyncio.sleep(0.5)
        await load()
        await asyncio.sleep(1.5)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    latencies.sort()

    def pct(share: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(share * len(latencies)))], 1)

    return {"rate_calls_s": rate, "seconds": seconds, "events": len(latencies) + len(applied),
            "delivered": len(latencies), "sse_messages": messages,
            "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99),
                           "max": round(1000 * latencies[-1], 1)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--quick", action="store_true", help="10^4 and 10^5 calls")
    parser.add_argument("--out", default=None)
    parser.add_argument("--wallboard", action="store_true", help="the wallboard's update latency")
    parser.add_argument("--rate", type=float, default=50.0, help="calls per second (--wallboard)")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration (--wallboard)")
    args = parser.parse_args()
    if args.wallboard:
        import asyncio

        result = asyncio.run(wallboard_latency(args.rate, args.seconds))
        out = args.out or str(REPO / "bench" / "results" / "wallboard.json")
        Path(out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(json.dumps(result, indent=1))
        return 0
    args.out = args.out or str(REPO / "bench" / "results" / "report.json")
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        results = [measure(size, Path(tmp)) for size in sizes]
    summary: dict[str, Any] = {"sizes": results}
    if len(results) >= 2:
        small, large = results[0], results[-1]
        summary["ratio_time_per_call_largest_over_smallest"] = round(
            (large["report_by_none_s"] / large["calls"]) / (small["report_by_none_s"] / small["calls"]), 2)
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
