"""Transfer benchmark: from the agent's transfer command to the sub-center ringing.

For each of ``--calls`` calls, one after another: a SIPp caller reaches a SIPp agent
(through the static ``bench-static`` queue, so no greeting slows the loop), the script
sends ``transfer.start <call> 12366`` to the controller's control socket (what
``hotline transfer start`` does) and times, from AMI events:

* command -> control reply (the controller's AMI work: channel lookup, Setvar,
  Redirect, Originate),
* command -> INVITE to the sub-center (DialBegin on the transfer leg),
* command -> sub-center ringing (the sub-center's 180: Newstate Ringing),
* command -> three-way (the HotlineTransferAnswered user event).

Baseline, in the same script and sandbox: an AMI ``Originate`` straight to the same
sub-center, timed from the action to Newstate Ringing.  The ratio shows what the
controller and the transfer dialplan add to plain Asterisk.

    .venv/bin/python bench/transfer_bench.py [--calls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stats import summary  # noqa: E402
from hotline_sandbox import api  # noqa: E402
from ivr.ami.client import AmiConnection, AmiSettings, connect  # noqa: E402
from ivr.ami.codec import AmiMessage  # noqa: E402
from ivr.control.client import call as control_call  # noqa: E402
from testkit.controller import ControllerProcess  # noqa: E402
from testkit.sipp import SippPeer, answering_peer, place_call  # noqa: E402

AGENTS = [f"agent-100{i}" for i in range(1, 9)]


class EventLog:
    """AMI events with their arrival time, and waiting for the next matching one."""

    def __init__(self) -> None:
        self.events: list[tuple[float, AmiMessage]] = []
        self._changed = asyncio.Event()

    async def pump(self, ami: AmiConnection) -> None:
        async for event in ami.events():
            self.events.append((time.perf_counter(), event))
            self._changed.set()

    async def wait(self, match: Callable[[AmiMessage], bool], after: float,
                   timeout_s: float = 20.0) -> tuple[float, AmiMessage]:
        deadline = time.perf_counter() + timeout_s
        seen = 0
        while True:
            for at, event in self.events[seen:]:
                if at >= after and match(event):
                    return at, event
            seen = len(self.events)
            self._changed.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError("no matching AMI event")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


def ringing_at_subcenter(event: AmiMessage) -> bool:
    return (event.event == "Newstate" and event.get("ChannelStateDesc") == "Ringing"
            and event.get("Channel").startswith("PJSIP/subcenters-"))


async def one_transfer(log: EventLog, ami: AmiConnection, control: Path, traces: Path,
                       i: int) -> dict[str, float]:
    start = time.perf_counter()
    caller = place_call("static-queue", traces, scenario="caller_wait_bye.xml", timeout_s=60,
                        name=f"caller-{i}")
    _, connect_event = await log.wait(
        lambda e: e.event == "AgentConnect" and e.get("Queue") == "bench-static", start)
    call_id, caller_channel = connect_event.get("Uniqueid"), connect_event.get("Channel")
    await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    reply = await asyncio.to_thread(control_call, control, "transfer.start", call_id=call_id,
                                    target="12366", mode="attended")
    t_reply = time.perf_counter()
    if not reply.get("ok"):
        raise RuntimeError(f"transfer refused: {reply}")
    transfer_id = reply["result"]["id"]
    t_invite, _ = await log.wait(lambda e: e.event == "DialBegin"
                                 and e.get("Uniqueid") == transfer_id + "-leg", t0)
    t_ring, _ = await log.wait(ringing_at_subcenter, t0)
    t_joined, _ = await log.wait(lambda e: e.event == "UserEvent"
                                 and e.get("UserEvent") == "HotlineTransferAnswered"
                                 and e.get("TransferId") == transfer_id, t0)
    await ami.action("Hangup", {"Channel": caller_channel})
    await log.wait(lambda e: e.event == "Hangup" and e.get("Uniqueid") == call_id, t0)
    if caller.wait(20) != 0:
        raise RuntimeError(caller.describe())
    return {"reply_ms": (t_reply - t0) * 1000, "invite_ms": (t_invite - t0) * 1000,
            "ringing_ms": (t_ring - t0) * 1000, "three_way_ms": (t_joined - t0) * 1000}


async def one_originate(log: EventLog, ami: AmiConnection) -> float:
    t0 = time.perf_counter()
    await ami.action("Originate", {"Channel": "PJSIP/12366@subcenters", "Application": "Wait",
                                   "Data": "0.3", "Async": "true", "Timeout": "10000"})
    t_ring, _ = await log.wait(ringing_at_subcenter, t0)
    await asyncio.sleep(1.0)  # let it answer and end
    return (t_ring - t0) * 1000


async def main_async(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    state = api.up()
    api.asterisk_cli("channel request hangup all")
    settings = AmiSettings(state.ami_host, state.ami_port, state.ami_user, state.ami_secret)
    env = {"HOTLINE_AMI_SECRET": state.ami_secret, "HOTLINE_AMI_USER": state.ami_user,
           "HOTLINE_AMI_PORT": str(state.ami_port)}
    controller = ControllerProcess(REPO, tmp / "run", tmp / "controller.log", extra_env=env)
    controller.start()
    peers: list[SippPeer] = [answering_peer(state.peer_ports[a], tmp, calls=args.calls,
                                            scenario="agent_answer.xml", timeout_s=900, name=a)
                             for a in AGENTS]
    sub = answering_peer(state.peer_ports["subcenters"], tmp, calls=10 * args.calls,
                         scenario="agent_answer_hangup.xml", hold_ms=300, timeout_s=900,
                         name="subcenters")
    transfers: list[dict[str, float]] = []
    originates: list[float] = []
    try:
        async with connect(settings) as ami, asyncio.TaskGroup() as tasks:
            log = EventLog()
            pump = tasks.create_task(log.pump(ami), name="ami-events")
            for i in range(args.calls):
                transfers.append(await one_transfer(log, ami, controller.run_dir / "control.sock",
                                                    tmp, i))
                originates.append(await one_originate(log, ami))
                print(f"\r{i + 1}/{args.calls} transfers: command -> ringing "
                      f"{transfers[-1]['ringing_ms']:.1f} ms, originate -> ringing "
                      f"{originates[-1]:.1f} ms", end="", flush=True)
            print()
            pump.cancel()
    finally:
        controller.stop()
        for peer in [*peers, sub]:
            peer.stop()
    results: dict[str, object] = {"calls": args.calls}
    for key in ("reply_ms", "invite_ms", "ringing_ms", "three_way_ms"):
        results[f"transfer_{key}"] = summary([t[key] for t in transfers])
    results["baseline_originate_ringing_ms"] = summary(originates)
    ours = results["transfer_ringing_ms"]
    base = results["baseline_originate_ringing_ms"]
    assert isinstance(ours, dict) and isinstance(base, dict)
    results["ringing_ratio_median"] = ours["median"] / base["median"]
    for key in ("reply_ms", "invite_ms", "ringing_ms", "three_way_ms"):
        s = results[f"transfer_{key}"]
        assert isinstance(s, dict)
        print(f"command -> {key[:-3]:10s} median {s['median']:6.1f} ms  p95 {s['p95']:6.1f}  "
              f"max {s['max']:6.1f}  (n={s['n']})")
    print(f"baseline originate -> ringing median {base['median']:6.1f} ms  p95 {base['p95']:6.1f}; "
          f"ratio {results['ringing_ratio_median']:.2f}")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "transfer.json").write_text(json.dumps(results, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=30)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
