"""Callback latency: from an agent becoming free to the caller's phone ringing.

On the sandbox Asterisk with the controller as a subprocess: agent 1008 logged in and
paused (callers queue, nobody answers), N callers with different numbers hang up in the
queue after ``min_abandon_wait_s`` (N callback entries), then agent 1001 logs in.  The
agent's SIPp phone answers each callback and hangs up after 7 s, the callers' phone
(127.0.0.1:5196, ``callbacks.dial``) answers; every end unpauses 1001 (the dialplan's
hangup handler) and the next entry is dialled.  Measured from AMI events this script
receives: agent free (``QueueMemberAdded`` for the first, the ``QueueMemberPause``
``Paused: 0`` of 1001 after each callback) -> Asterisk dials the caller (``DialBegin``
towards ``PJSIP/trunk``, i.e. the INVITE to the caller's phone).  The path in between:
the scheduler's round (``poll_s``, woken at once by an end), the store write
(``dialling``, synchronous=FULL), the Originate, the agent's phone ringing and answering.

    CI=true flock /tmp/hotline-integration.lock .venv/bin/python bench/callbacks_latency.py [--calls 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stats import summary  # noqa: E402
from hotline_sandbox import api  # noqa: E402
from hotline_sandbox.state import SandboxState  # noqa: E402
from ivr.ami.client import AmiSettings, connect  # noqa: E402
from testkit.config import edited_config  # noqa: E402
from testkit.controller import ControllerProcess  # noqa: E402
from testkit.sipp import answering_peer, place_call  # noqa: E402

CALLBACK_PORT = 5196


def env_of(state: SandboxState) -> dict[str, str]:
    return {"HOTLINE_AMI_HOST": state.ami_host, "HOTLINE_AMI_PORT": str(state.ami_port),
            "HOTLINE_AMI_USER": state.ami_user, "HOTLINE_AMI_SECRET": state.ami_secret}


def hotline(state: SandboxState, config: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "ivr.cli.main", args[0], "--config", str(config),
                    *args[1:]], env={**os.environ, **env_of(state)}, check=True,
                   capture_output=True, timeout=60)


async def measure(state: SandboxState, config: Path, calls: int) -> list[float]:
    """Log 1001 in and time each agent-free -> caller-INVITE gap (ms)."""
    settings = AmiSettings(state.ami_host, state.ami_port, state.ami_user, state.ami_secret)
    free_at: float | None = None
    gaps: list[float] = []
    done = asyncio.Event()
    async with connect(settings) as ami:

        async def pump() -> None:
            nonlocal free_at
            async for event in ami.events():
                now = time.monotonic()
                name = event.event
                iface = (event.get("Interface") or "").lower()
                added = name == "QueueMemberAdded" and free_at is None
                resumed = name == "QueueMemberPause" and event.get("Paused") == "0"
                if iface == "pjsip/agent-1001" and (added or resumed):
                    free_at = now
                elif name == "DialBegin" and event.get("DestChannel").startswith(
                        "PJSIP/trunk") and free_at is not None:
                    gaps.append((now - free_at) * 1000)
                    free_at = None
                    if len(gaps) >= calls:
                        done.set()

        task = asyncio.create_task(pump())
        await asyncio.to_thread(hotline, state, config, "agent", "login", "1001")
        try:
            await asyncio.wait_for(done.wait(), timeout=calls * 40)
        finally:
            task.cancel()
    return gaps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=12)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hotline-cb-bench-"))
    state = api.up()
    config = edited_config(REPO, tmp / "config", (
        ("  min_abandon_wait_s: 10", "  min_abandon_wait_s: 2"),
        ("  once_per_h: 24", "  once_per_h: 0"),
        ("  max_concurrent: 2", "  max_concurrent: 1"),
        ('quiet_hours: {start: "21:00", end: "08:00"}', "quiet_hours: null")))
    controller = ControllerProcess(config, tmp / "run", tmp / "controller.log",
                                   extra_env=env_of(state), log_level="INFO")
    hotline(state, config, "agent", "logout", "--all")
    controller.start()
    traces = tmp / "sipp"
    try:
        hotline(state, config, "agent", "login", "1008")
        hotline(state, config, "agent", "pause", "1008")
        callers = [place_call("12345", traces, caller=f"1390000{i:04d}",
                              scenario="caller_hangup.xml", hold_ms=10000, name=f"c{i}")
                   for i in range(args.calls)]
        for caller in callers:
            assert caller.wait(90) == 0, caller.describe()
        agent = answering_peer(state.peer_ports["agent-1001"], traces,
                               scenario="agent_answer_hangup.xml", calls=args.calls,
                               hold_ms=7000, timeout_s=args.calls * 40, name="agent")
        phone = answering_peer(CALLBACK_PORT, traces, scenario="agent_answer.xml",
                               calls=args.calls, timeout_s=args.calls * 40, name="phone")
        time.sleep(2)  # the entries are stored (the controller logs each)
        gaps = asyncio.run(measure(state, config, args.calls))
        agent.stop()
        phone.stop()
        print(json.dumps({"callbacks": len(gaps),
                          "agent_free_to_caller_invite_ms": summary(gaps)}, indent=1))
    finally:
        controller.stop()
        hotline(state, config, "agent", "logout", "--all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
