"""Capacity of the sandbox through the controller vs the static dialplan, and calls held.

``capacity`` (default): SIPp's built-in ``uac`` scenario calls both paths in one run at
stepped rates (2 s hold; both paths answer and play the same greeting, the controller
path after its FastAGI decision). For each path: the highest rate with zero failed calls
and INVITE→200 OK p95 under 100 ms; the ratio controller/static of those rates; CPU
seconds per call of the controller and of Asterisk; AMI events the controller received
per call.

``hold``: N callers at once with the 8 agent phones answering (SIPp) and the rest queued;
the largest N held for the whole hold with no call lost.

    .venv/bin/python bench/load.py [--rates 40,80,...] [--step-s 10] [--quick]
    .venv/bin/python bench/load.py hold [--counts 50,100,200] [--hold-s 20]

Results: bench/results/load.json (capacity) and bench/results/load_hold.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stats import summary  # noqa: E402
from hotline_sandbox import api  # noqa: E402
from ivr.control.client import call as control  # noqa: E402
from testkit.config import edited_config  # noqa: E402
from testkit.controller import ControllerProcess  # noqa: E402
from testkit.sipp import SCENARIOS, sipp_binary  # noqa: E402

HOLD_MS = 2000
P95_LIMIT_MS = 100.0
TICKS = os.sysconf("SC_CLK_TCK")
RESULTS = REPO / "bench" / "results"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Step:
    """One rate step on one path."""

    path: str
    rate: int
    offered: int
    succeeded: int
    failed: int
    p50_ms: float
    p95_ms: float
    controller_cpu_s: float
    asterisk_cpu_s: float
    ami_events: int

    @property
    def passed(self) -> bool:
        return self.failed == 0 and self.succeeded == self.offered and self.p95_ms < P95_LIMIT_MS


def run_sipp(number: str, rate: int, calls: int, work: Path, port: int, sip_port: int,
             hold_ms: int = HOLD_MS, scenario: list[str] | None = None,
             timeout_s: int = 120) -> tuple[int, int, list[float]]:
    """Offer ``calls`` calls at ``rate``/s; (succeeded, failed, INVITE→200 times in ms)."""
    work.mkdir(parents=True, exist_ok=True)
    limit = max(10, rate * (hold_ms // 1000 + 3) * 2)
    command = [sipp_binary(), f"127.0.0.1:{sip_port}", *(scenario or ["-sn", "uac"]),
               "-s", number, "-i", "127.0.0.1", "-p", str(port), "-mp", str(port + 2000),
               "-r", str(rate), "-m", str(calls), "-l", str(limit), "-d", str(hold_ms),
               "-trace_stat", "-stf", "stat.csv", "-trace_rtt", "-rtt_freq", "1",
               "-timeout", f"{timeout_s}s", "-recv_timeout", "10000", "-nostdin",
               "-trace_err"]
    subprocess.run(command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=timeout_s + 30, check=False)
    succeeded = failed = 0
    stat = work / "stat.csv"
    if stat.exists():
        rows = list(csv.DictReader(stat.open(), delimiter=";"))
        if rows:
            succeeded = int(rows[-1].get("SuccessfulCall(C)") or 0)
            failed = int(rows[-1].get("FailedCall(C)") or 0)
    times: list[float] = []
    for rtt in work.glob("*_rtt.csv"):
        for row in csv.DictReader(rtt.open(), delimiter=";"):
            value = row.get("response_time_ms")
            if value:
                times.append(float(value))
    return succeeded, failed, times


class Bench:
    """The sandbox, a controller on a copy of the configuration, and their processes."""

    def __init__(self, work: Path, mqtt_port: int | None = None) -> None:
        self.work = work
        self.state = api.up()
        # Listening off (no Mandarin model here), MQTT and recording off (their costs:
        # bench/mqtt_bench.py, bench/recording_bench.py): the static path does neither.
        # ``mqtt_port``: MQTT on, to a broker on that loopback port (bench/mqtt_bench.py live).
        mqtt = ("mqtt:\n  enabled: true\n  host: 127.0.0.1             # loopback by default; "
                "a remote broker wants tls.enabled\n  port: 1883",
                "mqtt:\n  enabled: false" if mqtt_port is None else
                f"mqtt:\n  enabled: true\n  host: 127.0.0.1\n  port: {mqtt_port}")
        config = edited_config(REPO, work / "config", (
            ("  enabled: true\n  lines: [main, unknown]", "  enabled: false\n  lines: [main, unknown]"),
            mqtt,
            ("recording:\n  enabled: true", "recording:\n  enabled: false")))
        self.controller = ControllerProcess(config, work / "run", work / "controller.log",
                                            extra_env={
                                                "HOTLINE_AMI_HOST": self.state.ami_host,
                                                "HOTLINE_AMI_SECRET": self.state.ami_secret,
                                                "HOTLINE_AMI_USER": self.state.ami_user,
                                                "HOTLINE_AMI_PORT": str(self.state.ami_port)},
                                            log_level="INFO")
        self.controller.start()
        self.port = 41000

    @property
    def controller_pid(self) -> int:
        assert self.controller.process is not None
        return self.controller.process.pid

    def ami_events(self) -> int:
        reply = control(self.controller.run_dir / "control.sock", "engine.stats")
        return int(reply.get("result", {}).get("ami_events", 0))

    def step(self, path: str, number: str, rate: int, step_s: int) -> Step:
        calls = rate * step_s
        self.port += 10
        c0, a0, e0 = cpu_seconds(self.controller_pid), cpu_seconds(self.state.pid), self.ami_events()
        ok, failed, times = run_sipp(number, rate, calls, self.work / f"{path}-{rate}", self.port,
                                     self.state.sip_port)
        time.sleep(1.0)  # the last hangups' events
        c1, a1, e1 = cpu_seconds(self.controller_pid), cpu_seconds(self.state.pid), self.ami_events()
        stats = summary(times)
        return Step(path, rate, calls, ok, failed, stats.get("median", float("nan")),
                    stats.get("p95", float("nan")), round(c1 - c0, 3), round(a1 - a0, 3), e1 - e0)

    def close(self) -> None:
        self.controller.stop()


def capacity(args: argparse.Namespace) -> int:
    rates = [int(r) for r in args.rates.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    bench = Bench(work)
    steps: list[Step] = []
    best: dict[str, int] = {"static": 0, "controller": 0}
    try:
        for path, number in (("static", "static-12345"), ("controller", "12345")):
            misses = 0
            for rate in rates:
                step = bench.step(path, number, rate, args.step_s)
                steps.append(step)
                mark = "ok" if step.passed else "FAIL"
                print(f"{path:10s} {rate:4d}/s: {step.succeeded}/{step.offered} ok, "
                      f"{step.failed} failed, INVITE->200 median {step.p50_ms:.1f} ms "
                      f"p95 {step.p95_ms:.1f} ms; CPU controller {step.controller_cpu_s:.2f} s "
                      f"asterisk {step.asterisk_cpu_s:.2f} s; AMI events {step.ami_events}  {mark}",
                      flush=True)
                if step.passed:
                    best[path] = max(best[path], rate)
                    misses = 0
                else:
                    misses += 1
                    if misses >= 2:
                        break
                time.sleep(3)  # let retransmissions and hangups drain between steps
    finally:
        bench.close()
    controller_steps = [s for s in steps if s.path == "controller" and s.succeeded]
    calls = sum(s.succeeded for s in controller_steps) or 1
    result = {
        "rates": rates, "step_s": args.step_s, "hold_ms": HOLD_MS,
        "highest_zero_failure_rate": best,
        "ratio_controller_static": round(best["controller"] / best["static"], 3)
        if best["static"] else None,
        "controller_cpu_ms_per_call": round(1000 * sum(s.controller_cpu_s for s in controller_steps)
                                            / calls, 3),
        "asterisk_cpu_ms_per_call_controller_path": round(
            1000 * sum(s.asterisk_cpu_s for s in controller_steps) / calls, 3),
        "asterisk_cpu_ms_per_call_static_path": round(
            1000 * sum(s.asterisk_cpu_s for s in steps if s.path == "static")
            / (sum(s.succeeded for s in steps if s.path == "static") or 1), 3),
        "ami_events_per_call": round(sum(s.ami_events for s in controller_steps) / calls, 1),
        "steps": [asdict(s) | {"passed": s.passed} for s in steps],
    }
    print(f"highest zero-failure rate (p95 < {P95_LIMIT_MS:.0f} ms): static {best['static']}/s, "
          f"controller {best['controller']}/s, ratio {result['ratio_controller_static']}")
    print(f"controller CPU {result['controller_cpu_ms_per_call']} ms/call; Asterisk CPU "
          f"{result['asterisk_cpu_ms_per_call_controller_path']} ms/call (static path "
          f"{result['asterisk_cpu_ms_per_call_static_path']}); AMI events "
          f"{result['ami_events_per_call']}/call")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def hold(args: argparse.Namespace) -> int:
    counts = [int(n) for n in args.counts.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-hold-"))
    bench = Bench(work)
    agents = [f"100{i}" for i in range(1, 9)]
    rows = []
    best = 0
    env = {**os.environ, "HOTLINE_RUN_DIR": str(bench.controller.run_dir),
           "HOTLINE_AMI_HOST": bench.state.ami_host, "HOTLINE_AMI_PORT": str(bench.state.ami_port),
           "HOTLINE_AMI_USER": bench.state.ami_user, "HOTLINE_AMI_SECRET": bench.state.ami_secret}
    hotline = [sys.executable, "-m", "ivr.cli.main"]
    try:
        subprocess.run([*hotline, "agent", "--config", str(bench.controller.config_dir), "login",
                        *agents], env=env, check=True, stdout=subprocess.DEVNULL)
        for count in counts:
            hold_ms = args.hold_s * 1000
            phones = []
            for i, _agent in enumerate(agents):
                port = bench.state.peer_ports[f"agent-100{i + 1}"]
                phones.append(subprocess.Popen(
                    [sipp_binary(), "-sf", str(SCENARIOS / "agent_answer.xml"), "-i", "127.0.0.1",
                     "-p", str(port), "-mp", str(44000 + 4 * i), "-m", "1000",
                     "-d", str(hold_ms + 5000), "-nostdin"], cwd=work,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            bench.port += 10
            rss0 = rss_kib(bench.controller_pid)
            ok, failed, _ = run_sipp("12345", max(1, count // 5), count, work / f"hold-{count}",
                                     bench.port, bench.state.sip_port, hold_ms=hold_ms,
                                     timeout_s=args.hold_s + 60)
            for phone in phones:
                phone.terminate()
                phone.wait()
            row = {"callers": count, "succeeded": ok, "failed": failed,
                   "controller_rss_kib": [rss0, rss_kib(bench.controller_pid)]}
            rows.append(row)
            held = failed == 0 and ok == count
            print(f"{count} callers held {args.hold_s} s (8 agents talking, the rest queued): "
                  f"{ok} ok, {failed} lost  {'ok' if held else 'FAIL'}", flush=True)
            if not held:
                break
            best = count
            time.sleep(5)
    finally:
        subprocess.run([*hotline, "agent", "--config", str(bench.controller.config_dir),
                        "logout", "--all"], env=env, check=False,
                       stdout=subprocess.DEVNULL)
        bench.close()
    result = {"hold_s": args.hold_s, "largest_held": best, "steps": rows}
    print(f"largest number of callers held with none lost: {best}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load_hold.json").write_text(json.dumps(result, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="capacity", choices=("capacity", "hold"))
    parser.add_argument("--rates", default="40,80,120,140,160,180,200,220,240,260")
    parser.add_argument("--step-s", type=int, default=10)
    parser.add_argument("--counts", default="50,100,150,200")
    parser.add_argument("--hold-s", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="rates 20,40 for 5 s (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.step_s, args.counts, args.hold_s = "20,40", 5, "20", 8
    return capacity(args) if args.mode == "capacity" else hold(args)


if __name__ == "__main__":
    sys.exit(main())
