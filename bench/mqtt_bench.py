"""MQTT benchmark: what does publishing every call event cost the controller, and how fast
does an event reach a subscriber?

A real mosquitto (Debian's, configured by ``ivr.mqtt.broker.render``: passwords, ACL,
persistence) is started on a free loopback port. The controller side runs in this process,
twice, for the same synthetic load, **driving the event stream directly** (no SIPp, no
Asterisk): N calls/s, each call one real ``decide()`` of the shipped configuration and its 8
steps (decided, prompts_played, queued, answered, queue_result, dial, dial_result, hangup)
published on the ``EventStream``, recorded by the real ``CallStore`` (writer thread, SQLite
WAL, synchronous=FULL):

* ``off``: the stream and the call store only (the controller's per-call work on the event
  path, minus the AGI/AMI codecs);
* ``on``: the same plus the MQTT feature's ``MqttService`` connected to the broker.

Reported: CPU seconds of this process (all threads) per call in both runs and the extra
CPU per call with MQTT on (goal: under 10 %); end-to-end latency from an event's time
(``at``, stamped when the step is recorded) to a subscriber in another process receiving
it (median, p95); events published, dropped.

With ``--spread`` the loop runs between a call's steps, so the publisher wakes once per
event (a live controller's events come one by one, seconds apart); without it a call's 8
steps are queued at once and published as one burst.

    .venv/bin/python bench/mqtt_bench.py [--rate 50] [--seconds 10] [--quick] [--spread]

``--live`` measures the real thing instead: the controller (``hotline run``) on the sandbox
Asterisk, SIPp offering 12345 calls at ``--rate`` for ``--seconds`` (as bench/load.py does),
once with MQTT off and once on (same broker, same configuration otherwise); reported: the
controller process's CPU per call in both runs, the extra with MQTT on, and the latency
from each event's time (the AMI event the controller recorded) to a subscriber.

    .venv/bin/python bench/mqtt_bench.py --live [--rate 100] [--seconds 20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))

from bench.stats import summary  # noqa: E402
from ivr.clock import SystemClock  # noqa: E402
from ivr.config.engine import EngineConfig, load_engine_config  # noqa: E402
from ivr.core.callstore import CallStore  # noqa: E402
from ivr.core.events import CallEvent, CallSteps, EventStream  # noqa: E402
from ivr.masking import mask_number  # noqa: E402
from ivr.mqtt.broker import hotline_password, render, start_broker, stop_broker  # noqa: E402
from ivr.mqtt.feature import KINDS  # noqa: E402
from ivr.mqtt.service import MqttService  # noqa: E402
from ivr.routing.decision import CallFacts, decide  # noqa: E402

STEPS = ("prompts_played", "queued", "answered", "queue_result", "dial", "dial_result", "hangup")
SUBSCRIBER = r"""
import json, sys, time
import paho.mqtt.client as mqtt
from datetime import datetime
port, password, topic, out, expected = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
lat = []
def on_message(c, u, m):
    p = json.loads(m.payload)
    lat.append((time.time() - datetime.fromisoformat(p["at"]).timestamp()) * 1000)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
c.username_pw_set("hotline", password)
c.on_message = on_message
c.connect("127.0.0.1", int(port))
c.subscribe(topic, qos=0)
c.loop_start()
print("ready", flush=True)
deadline = None
while True:
    line = sys.stdin.readline()
    if line.strip() == "stop":
        break
end = time.time() + 3
while len(lat) < expected and time.time() < end:
    time.sleep(0.05)
c.loop_stop()
json.dump(lat, open(out, "w"))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run(config: EngineConfig, mode: str, rate: float, seconds: float,
              store_path: Path, spread: bool = False) -> dict[str, Any]:
    stream = EventStream()
    async with CallStore(store_path) as store:
        stream.subscribe("call-store", store.record, (CallEvent,))
        service = task = None
        if mode == "on":
            queue = stream.queue("mqtt", KINDS, config.rules.mqtt.queue_max)
            secrets = Path(os.environ["HOTLINE_MQTT_SECRETS_DIR"])
            service = MqttService(queue, lambda: config, SystemClock(), store, None,
                                  lambda: hotline_password(secrets))
            task = asyncio.create_task(service.run())
            await asyncio.wait_for(service.connected.wait(), 10)
        steps = CallSteps(stream)
        calls = int(rate * seconds)
        interval = 1.0 / rate
        start_wall = time.monotonic()
        start_cpu = time.process_time()
        for n in range(calls):
            now = datetime.now(UTC)
            caller = f"138{n:08d}"
            decision = decide(CallFacts(number="12345", at=now, caller=caller), config)
            call_id = f"{int(time.time())}.{n}"
            steps.append(call_id, "decided", now, number="12345", caller=mask_number(caller),
                         region=decision.region, mode=decision.line.mode.value,
                         line_name=decision.line.name, phase=decision.phase.value,
                         prompts=decision.prompts, target_kind=decision.target.kind.value,
                         skill=decision.target.skill, queue=decision.target.queue)
            for step in STEPS:
                steps.append(call_id, step, datetime.now(UTC), channel=f"PJSIP/trunk-{n:08x}",
                             queue=decision.target.queue, status="ANSWER", agent="1001")
                if spread:
                    await asyncio.sleep(0)
            await asyncio.sleep(max(0.0, start_wall + (n + 1) * interval - time.monotonic()))
        await store.flush()
        if service is not None:
            deadline = time.monotonic() + 10
            while len(service.queue) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        cpu = time.process_time() - start_cpu
        wall = time.monotonic() - start_wall
        result = {"mode": mode, "calls": calls, "events": calls * (len(STEPS) + 1),
                  "cpu_s": round(cpu, 3), "wall_s": round(wall, 2),
                  "cpu_ms_per_call": round(cpu / calls * 1000, 3)}
        if service is not None and task is not None:
            result.update(published=service.counters.published, dropped=service.queue.dropped)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return result


def subscribe(port: int, secrets: Path, topic: str, out: Path, expected: int
              ) -> subprocess.Popen[str]:
    """A subscriber in another process, ready when this returns; stop it with ``stop``."""
    sub = subprocess.Popen(
        [sys.executable, "-c", SUBSCRIBER, str(port), hotline_password(secrets), topic, str(out),
         str(expected)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert sub.stdout is not None
    sub.stdout.readline()
    time.sleep(0.3)
    return sub


def stop(sub: subprocess.Popen[str], out: Path) -> list[float]:
    assert sub.stdin is not None
    sub.stdin.write("stop\n")
    sub.stdin.flush()
    sub.wait(30)
    latencies: list[float] = json.loads(out.read_text())
    return latencies


def live(args: argparse.Namespace, port: int, secrets: Path, topic: str, tmp: Path
         ) -> dict[str, Any]:
    """The controller under SIPp load with MQTT off, then on, ``--repeat`` times (run-to-run
    noise on a shared 2-CPU machine is about the size of the difference: medians count)."""
    from statistics import median

    from bench.load import Bench

    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    latencies: list[float] = []
    for rep in range(args.repeat):
        for mode in ("off", "on"):
            bench = Bench(tmp / f"{mode}{rep}", mqtt_port=port if mode == "on" else None)
            try:
                bench.step("controller", "12345", 20, 3)  # warm-up
                out = tmp / "latency.json"
                sub = subscribe(port, secrets, topic, out, 10**9) if mode == "on" else None
                step = bench.step("controller", "12345", int(args.rate), int(args.seconds))
                if sub is not None:
                    latencies += stop(sub, out)
            finally:
                bench.close()
            calls = step.succeeded or 1
            run = {"calls": step.succeeded, "failed": step.failed, "cpu_s": step.controller_cpu_s,
                   "cpu_ms_per_call": round(step.controller_cpu_s / calls * 1000, 3)}
            runs[mode].append(run)
            print(f"  MQTT {mode} (run {rep + 1}): {run}", flush=True)
    result: dict[str, Any] = {"latencies": latencies}
    for mode in ("off", "on"):
        calls = sum(r["calls"] for r in runs[mode]) or 1
        result[mode] = {"mode": mode, "runs": runs[mode], "calls": calls,
                        "cpu_ms_per_call": round(median(r["cpu_ms_per_call"]
                                                        for r in runs[mode]), 3)}
    result["on"]["received_events"] = len(latencies)
    result["on"]["received_per_call"] = round(len(latencies) / result["on"]["calls"], 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="calls per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="20 calls/s for 3 s")
    parser.add_argument("--repeat", type=int, default=2, help="--live: off/on pairs to run")
    parser.add_argument("--live", action="store_true",
                        help="the real controller on the sandbox under SIPp load, MQTT off/on")
    parser.add_argument("--spread", action="store_true",
                        help="let the loop run between a call's steps (one event per wake-up of "
                             "the publisher, as in a live controller) instead of 8 at once")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds = 20.0, 3.0
    if shutil.which("mosquitto_passwd") is None:
        print("mosquitto is not installed (tools/bootstrap installs it)", file=sys.stderr)
        return 1
    base = load_engine_config(REPO)
    port = free_port()
    mqtt_rules = base.rules.mqtt.model_copy(update={"enabled": True, "port": port})
    config = dataclasses.replace(base, rules=base.rules.model_copy(update={"mqtt": mqtt_rules}))
    with tempfile.TemporaryDirectory(prefix="mqtt-bench-") as tmp:
        secrets = Path(tmp) / "secrets"
        os.environ["HOTLINE_MQTT_SECRETS_DIR"] = str(secrets)
        rendered = render(mqtt_rules, config.region, secrets)
        start_broker(rendered.conf, "127.0.0.1", port)
        topic = f"{mqtt_rules.topic_prefix}/{config.region}/call/+/+"
        try:
            if args.live:
                runs = live(args, port, secrets, topic, Path(tmp))
                off, on, latencies = runs["off"], runs["on"], runs["latencies"]
            else:
                off = asyncio.run(run(config, "off", args.rate, args.seconds,
                                      Path(tmp) / "off.db", args.spread))
                out = Path(tmp) / "latency.json"
                sub = subscribe(port, secrets, topic, out,
                                int(args.rate * args.seconds) * (len(STEPS) + 1))
                on = asyncio.run(run(config, "on", args.rate, args.seconds, Path(tmp) / "on.db",
                                     args.spread))
                latencies = stop(sub, out)
        finally:
            stop_broker(secrets)
    extra = (on["cpu_ms_per_call"] - off["cpu_ms_per_call"]) / off["cpu_ms_per_call"]
    lat = summary(latencies)
    report = {
        "load": f"{args.rate:g} calls/s x {args.seconds:g} s, " + (
            "SIPp through the sandbox Asterisk and the real controller" if args.live else
            f"{len(STEPS) + 1} events per call (synthetic: the event stream driven directly, "
            "no SIPp/Asterisk" + ("; steps one loop turn apart)" if args.spread
                                  else "; a call's steps at once)")),
        "off": off, "on": on,
        "extra_cpu_ms_per_call": round(on["cpu_ms_per_call"] - off["cpu_ms_per_call"], 3),
        "extra_cpu_ratio": round(extra, 3),
        "latency_ms": {k: round(v, 2) for k, v in lat.items()},
        "received": len(latencies),
        "goal_extra_cpu_under_10pct": extra < 0.10,
    }
    print(json.dumps(report, indent=1, ensure_ascii=False))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("mqtt-live.json" if args.live else "mqtt.json")).write_text(
        json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
