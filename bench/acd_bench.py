"""ACD benchmark: our skill-based distribution vs app_queue with a static configuration.

Both run on the same sandbox Asterisk in one script, with the same eight SIPp agent
phones and the same caller load (more callers than agents, so calls queue):

* ours:   12345 -> FastAGI decision -> greeting -> hl-general, agents logged in
          dynamically (44 skill queues each, penalty bands, QUEUE_PRIO, rules)
* static: static-queue -> Queue(bench-static), eight static members, no penalties

Measured from AMI events received by this script:

* join -> first ring: how long app_queue takes to pick and ring an agent for a
  caller who found a free agent (the distribution decision inside Asterisk);
* agent free -> ring: from an agent's AgentComplete to the next AgentCalled on
  the same phone while callers wait;
* the controller's own decision time (``decide()``), in-process, per call.

    .venv/bin/python bench/acd_bench.py [--calls 40] [--rate 4] [--hold-ms 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stats import summary  # noqa: E402
from hotline_sandbox import api  # noqa: E402
from hotline_sandbox.settings import SandboxSettings  # noqa: E402
from ivr.ami.client import AmiConnection, AmiSettings, connect  # noqa: E402
from ivr.config.engine import load_engine_config  # noqa: E402
from ivr.routing.decision import CallFacts, decide  # noqa: E402
from testkit.controller import ControllerProcess  # noqa: E402
from testkit.sipp import SippPeer, answering_peer, place_call  # noqa: E402

AGENTS = [f"100{i}" for i in range(1, 9)]
ROSTER = "version: 1\nagents:\n" + "".join(
    f'  - {{id: "{a}", name: 坐席{a}, interface: PJSIP/agent-{a}, skills: {{general: 5}}}}\n'
    for a in AGENTS)


@dataclass
class Observed:
    """Event times (monotonic seconds) seen on AMI for one queue."""

    queue: str
    joins: dict[str, float] = field(default_factory=dict)
    first_ring: dict[str, float] = field(default_factory=dict)
    completes: list[tuple[str, float]] = field(default_factory=list)
    rings: list[tuple[str, float]] = field(default_factory=list)
    connected: int = 0
    waiting: int = 0
    peak_waiting: int = 0

    def feed(self, event: dict[str, str], at: float) -> None:
        if event.get("Queue") != self.queue:
            return
        name = event.get("Event")
        uid = event.get("Uniqueid", "")
        if name == "QueueCallerJoin":
            self.joins[uid] = at
            self.waiting += 1
            self.peak_waiting = max(self.peak_waiting, self.waiting)
        elif name == "QueueCallerLeave":
            self.waiting -= 1
        elif name == "AgentCalled":
            self.first_ring.setdefault(uid, at)
            self.rings.append((event.get("Interface", ""), at))
        elif name == "AgentComplete":
            self.completes.append((event.get("Interface", ""), at))
        elif name == "AgentConnect":
            self.connected += 1

    def join_to_ring_ms(self) -> list[float]:
        return [(self.first_ring[u] - t) * 1000 for u, t in self.joins.items()
                if u in self.first_ring and self.first_ring[u] - t < 1.0]

    def free_to_ring_ms(self) -> list[float]:
        out = []
        for interface, done in self.completes:
            later = [t for i, t in self.rings if i == interface and t > done]
            if later and min(later) - done < 5.0:
                out.append((min(later) - done) * 1000)
        return out


async def drive(ami: AmiConnection, observed: Observed, peers: list[SippPeer],
                label: str) -> None:
    """Collect AMI events until every caller SIPp has finished."""
    async def pump() -> None:
        async for event in ami.events():
            observed.feed(event.as_dict(), time.monotonic())

    task = asyncio.create_task(pump(), name=f"ami-pump-{label}")
    shown = ""
    while any(p.running for p in peers):
        await asyncio.sleep(0.5)
        line = f"{label}: {len(observed.joins)} joined, {observed.connected} connected"
        if line != shown:
            print(f"\r{line}", end="", flush=True)
            shown = line
    await asyncio.sleep(1.0)
    task.cancel()
    print()


async def run_phase(label: str, number: str, queue: str, args: argparse.Namespace,
                    ami_settings: AmiSettings, traces: Path, sip_port: int,
                    agent_ports: dict[str, int]) -> dict[str, object]:
    phones = [answering_peer(agent_ports[f"agent-{a}"], traces / label, calls=args.calls,
                             scenario="agent_answer_hangup.xml",
                             hold_ms=args.hold_ms, timeout_s=600, name=f"agent-{a}")
              for a in AGENTS]
    observed = Observed(queue)
    async with connect(ami_settings) as ami:
        callers = place_call(number, traces / label, calls=args.calls, rate=args.rate,
                             hold_ms=args.hold_ms, timeout_s=300, sip_port=sip_port,
                             name=f"callers-{label}")
        await drive(ami, observed, [callers], label)
    rc = callers.wait(30)
    for phone in phones:
        phone.stop()
    return {"callers_rc": rc, "joined": len(observed.joins), "connected": observed.connected,
            "peak_waiting": observed.peak_waiting,
            "join_to_ring_ms": summary(observed.join_to_ring_ms()),
            "free_to_ring_ms": summary(observed.free_to_ring_ms())}


def decision_time_us(config_dir: Path, n: int = 5000) -> float:
    config = load_engine_config(config_dir)
    numbers = ["12345", "12396", "12333", "12366", "110", "88888888"]
    at = datetime(2022, 6, 1, 2, tzinfo=UTC)
    start = time.perf_counter()
    for i in range(n):
        decide(CallFacts(number=numbers[i % len(numbers)], at=at), config)
    return (time.perf_counter() - start) / n * 1e6


def bench_config(tmp: Path) -> Path:
    config = tmp / "config"
    config.mkdir()
    for name in ("merger_catalogue.yaml", "routing_rules.yaml"):
        (config / name).write_text((REPO / name).read_text(encoding="utf-8"), encoding="utf-8")
    rules = config / "routing_rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        "  wrapup_s: 10 ", "  wrapup_s: 0 ", 1), encoding="utf-8")
    (config / "agents.yaml").write_text(ROSTER, encoding="utf-8")
    (config / "recordings").symlink_to(REPO / "recordings")
    return config


async def main_async(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-acd-"))
    config = bench_config(tmp)
    api.down()
    state = api.up(SandboxSettings.from_env().replace(config_dir=config))
    ami_settings = AmiSettings(state.ami_host, state.ami_port, state.ami_user, state.ami_secret)
    env = {"HOTLINE_AMI_SECRET": state.ami_secret, "HOTLINE_AMI_USER": state.ami_user,
           "HOTLINE_AMI_PORT": str(state.ami_port)}
    controller = ControllerProcess(config, tmp / "run", tmp / "controller.log",
                                   at="2022-06-01T10:00:00+08:00", extra_env=env)
    controller.start()
    results: dict[str, object] = {"agents": len(AGENTS), "calls": args.calls, "rate": args.rate,
                                  "hold_ms": args.hold_ms}
    try:
        async with connect(ami_settings) as ami:
            for agent in AGENTS:
                for queue in ("hl-general",):
                    await ami.action("QueueAdd", {"Queue": queue,
                                                  "Interface": f"PJSIP/agent-{agent}",
                                                  "Penalty": "5", "MemberName": agent})
        results["ours"] = await run_phase("ours", "12345", "hl-general", args, ami_settings,
                                          tmp, state.sip_port, state.peer_ports)
        async with connect(ami_settings) as ami:
            for agent in AGENTS:
                await ami.action("QueueRemove", {"Queue": "hl-general",
                                                 "Interface": f"PJSIP/agent-{agent}"})
        results["static"] = await run_phase("static", "static-queue", "bench-static", args,
                                            ami_settings, tmp, state.sip_port, state.peer_ports)
    finally:
        controller.stop()
        api.down()
        api.up()  # back to the shipped configuration
    results["decide_us_per_call"] = decision_time_us(REPO)
    ours, static = results["ours"], results["static"]
    assert isinstance(ours, dict) and isinstance(static, dict)
    for metric in ("join_to_ring_ms", "free_to_ring_ms"):
        o, s = ours[metric], static[metric]
        if o.get("n") and s.get("n"):
            results[f"{metric}_ratio_median"] = o["median"] / s["median"]
        print(f"{metric:16s} ours median {o.get('median', float('nan')):6.1f} ms "
              f"p95 {o.get('p95', float('nan')):6.1f} (n={o['n']})   static median "
              f"{s.get('median', float('nan')):6.1f} ms p95 {s.get('p95', float('nan')):6.1f} "
              f"(n={s['n']})   ratio {results.get(f'{metric}_ratio_median', float('nan')):.2f}")
    print(f"callers: ours {ours['connected']}/{args.calls} connected (SIPp rc {ours['callers_rc']}), "
          f"static {static['connected']}/{args.calls} (rc {static['callers_rc']})")
    print(f"peak callers waiting at once: ours {ours['peak_waiting']}, static "
          f"{static['peak_waiting']} (plus {len(AGENTS)} talking)")
    print(f"controller decide(): {results['decide_us_per_call']:.1f} us per call")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "acd.json").write_text(json.dumps(results, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--rate", type=float, default=4.0, help="new calls per second")
    parser.add_argument("--hold-ms", type=int, default=2000, help="talk time per call")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
