"""Soak: a steady call load for minutes with an Asterisk restart and a controller crash in it.

SIPp offers 12345 calls at a fixed rate (default: 80 % of the controller's highest
zero-failure rate in bench/results/load.json, else 60/s) for ``--duration-s`` (default
600). A third of the way in, Asterisk is restarted (what a PBX crash looks like to the
controller: AMI and FastAGI drop, in-memory queue state is lost); two thirds in, the
controller is killed (SIGKILL) and started again after ``--down-s`` seconds. The fallback
desk (a SIPp phone) answers whatever the dialplan sends it.

It reports calls offered, answered, at the fallback desk, lost; calls lost while Asterisk
itself was down (the PBX refused them, not the engine) separately; the calls the
controller routed against the rows of its call store; the controller's RSS at the start
(after warm-up) and the end. Bounded: one SIPp run of rate × duration calls, loopback.

    .venv/bin/python bench/soak.py [--rate 80] [--duration-s 600] [--down-s 3]

Result: bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load import RESULTS, Bench, rss_kib  # noqa: E402
from hotline_sandbox import api  # noqa: E402
from ivr.core.callstore import CallStoreReader  # noqa: E402
from testkit.sipp import SCENARIOS, sipp_binary  # noqa: E402

HOLD_MS = 2000


def default_rate() -> int:
    """80 % of the measured controller capacity, or 60/s without a measurement."""
    try:
        load = json.loads((RESULTS / "load.json").read_text())
        return max(10, int(0.8 * load["highest_zero_failure_rate"]["controller"]))
    except (OSError, KeyError, ValueError, TypeError):
        return 60


def per_second(stat: Path) -> list[dict[str, str]]:
    """SIPp's periodic statistics rows."""
    return list(csv.DictReader(stat.open(), delimiter=";")) if stat.exists() else []


def unexpected_messages(work: Path) -> dict[str, int]:
    """What SIPp's callers received instead of what they expected (from its error log)."""
    counts: dict[str, int] = {}
    for log in work.glob("*_errors.log"):
        for line in log.read_text(errors="replace").splitlines():
            if "received '" in line:
                first = line.split("received '", 1)[1].split("\\r", 1)[0].split("'", 1)[0][:60]
                counts[first] = counts.get(first, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:10])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=None)
    parser.add_argument("--duration-s", type=int, default=600)
    parser.add_argument("--down-s", type=float, default=3.0)
    args = parser.parse_args()
    rate = args.rate or default_rate()
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    bench = Bench(work)
    state = bench.state
    calls = rate * args.duration_s
    desk = subprocess.Popen(
        [sipp_binary(), "-sf", str(SCENARIOS / "agent_answer.xml"), "-i", "127.0.0.1",
         "-p", str(state.peer_ports["fallback-desk"]), "-mp", str(45000), "-m", str(calls),
         "-d", str(HOLD_MS + 3000),  # the caller hangs up first, as a caller does
         "-trace_stat", "-stf", "desk.csv", "-fd", "1", "-nostdin"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caller = subprocess.Popen(
        [sipp_binary(), f"127.0.0.1:{state.sip_port}", "-sn", "uac", "-s", "12345",
         "-i", "127.0.0.1", "-p", "47200", "-mp", "49200", "-r", str(rate), "-m", str(calls),
         "-l", str(rate * 6), "-d", str(HOLD_MS), "-trace_stat", "-stf", "caller.csv", "-fd", "1",
         "-recv_timeout", "8000", "-timeout", f"{args.duration_s + 120}s", "-nostdin",
         "-trace_err"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    samples: list[dict[str, object]] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        # Asterisk's live channels every 10 s: a leak shows as a count that keeps rising
        while not stop_sampling.wait(10):
            try:
                out = api.asterisk_cli("core show channels count", timeout=5)
            except Exception as exc:  # noqa: BLE001 - Asterisk may be restarting
                out = f"unavailable: {exc}"
            channels = next((line.split()[0] for line in out.splitlines()
                             if line.endswith("active channels")), None)
            samples.append({"t": round(time.monotonic() - started), "channels": channels})
            print(f"  t={samples[-1]['t']}s channels={channels}", flush=True)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    print(f"soak: {rate} calls/s for {args.duration_s} s ({calls} calls)", flush=True)
    time.sleep(min(20, args.duration_s / 10))
    rss_start = rss_kib(bench.controller_pid)
    marks: dict[str, float] = {}

    def at(fraction: float) -> None:
        wait = started + fraction * args.duration_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    at(1 / 3)
    marks["asterisk_restart_start"] = time.monotonic() - started
    print(f"  t={marks['asterisk_restart_start']:.0f}s: restarting Asterisk", flush=True)
    state = api.restart_asterisk(progress=lambda _msg: None)
    marks["asterisk_restart_end"] = time.monotonic() - started
    at(2 / 3)
    marks["controller_kill"] = time.monotonic() - started
    print(f"  t={marks['controller_kill']:.0f}s: killing the controller", flush=True)
    bench.controller.kill()
    time.sleep(args.down_s)
    bench.controller.start()
    marks["controller_back"] = time.monotonic() - started
    while caller.poll() is None:
        time.sleep(5)
        if time.monotonic() - started > args.duration_s + 180:
            caller.terminate()
    stop_sampling.set()
    time.sleep(3)
    desk.terminate()
    desk.wait()
    rss_end = rss_kib(bench.controller_pid)
    rows = per_second(next(work.glob("caller*.csv"), work / "caller.csv"))
    last = rows[-1] if rows else {}
    offered = int(last.get("TotalCallCreated") or last.get("OutgoingCall(C)") or 0)
    answered = int(last.get("SuccessfulCall(C)") or 0)
    failed = int(last.get("FailedCall(C)") or 0)
    # One statistics row a second. Failures from the Asterisk restart until SIPp's INVITE
    # and BYE retransmissions give up (Timer B/F, 32 s) are the PBX's, not the engine's.
    lo, hi = marks["asterisk_restart_start"] - 2, marks["asterisk_restart_end"] + 34
    pbx_down = 0
    failures: list[dict[str, object]] = []
    previous: dict[str, int] = {}
    reasons = ("FailedUnexpectedMessage", "FailedTimeoutOnRecv", "FailedMaxUDPRetrans",
               "FailedCallRejected", "FailedOutboundCongestion")
    for second, row in enumerate(rows, 1):
        now_failed = int(row.get("FailedCall(C)") or 0)
        delta = now_failed - previous.get("total", 0)
        if delta:
            why = {r: int(row.get(f"{r}(C)") or 0) - previous.get(r, 0) for r in reasons}
            failures.append({"second": second, "failed": delta,
                             "reasons": {k: v for k, v in why.items() if v}})
            if lo <= second <= hi:
                pbx_down += delta
        previous = {"total": now_failed, **{r: int(row.get(f"{r}(C)") or 0) for r in reasons}}
    why_lost = unexpected_messages(work)
    desk_rows = per_second(next(work.glob("desk*.csv"), work / "desk.csv"))
    at_fallback = int(desk_rows[-1].get("SuccessfulCall(C)") or 0) if desk_rows else 0
    routed = sum(1 for line in bench.controller.log_path.read_text(errors="replace").splitlines()
                 if "ivr.calls.service: call " in line)
    reader = CallStoreReader(bench.controller.run_dir / "calls.db")
    stored = reader.count()
    bench.close()
    result = {
        "rate": rate, "duration_s": args.duration_s, "hold_ms": HOLD_MS, "marks_s": marks,
        "offered": offered, "answered": answered, "at_fallback_desk": at_fallback,
        "lost": failed - pbx_down, "refused_while_asterisk_restarted": pbx_down,
        "routed_by_controller": routed, "records_in_call_store": stored,
        "controller_rss_kib": {"start": rss_start, "end": rss_end},
        "work_orders_lost": 0, "work_orders_note": "the soak offers no transfers",
        "asterisk_channels": samples,
        "failures_by_second": failures,
        "unexpected_messages": why_lost,
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
