"""Post-call rating under mixed caller behaviour: the share of rated calls and the
distribution, through the real sandbox, controller, SIPp phones and RTP callers.

``--calls`` callers (default 54) dial 12345 in waves of ``--wave`` (one per logged-in
general agent); every agent phone answers and hangs up after 1 s, so each caller hears
the rating prompt.  Each caller's behaviour is drawn (seeded) from: press 1..5 (at a
random moment while the prompt plays), stay silent, or hang up 14 s after the answer
(during the prompt).  The script reports what ``hotline ratings`` then holds: the share
of surveyed calls that were rated, the distribution, satisfaction, and whether each
stored outcome is what the caller did.

    CI=true flock /tmp/hotline-integration.lock .venv/bin/python bench/ratings_run.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hotline_sandbox import api  # noqa: E402
from ivr.masking import mask_number  # noqa: E402
from testkit.config import edited_config  # noqa: E402
from testkit.controller import ControllerProcess  # noqa: E402
from testkit.rtp import CALLER_HZ, RtpParty  # noqa: E402
from testkit.sipp import SippPeer, answering_peer, rtp_call  # noqa: E402

AGENTS = ["1001", "1002", "1003", "1004", "1007", "1008"]  # the general skill (agents.yaml)
BEHAVIOURS = ("1", "2", "3", "4", "5", "silent", "hangup")
WEIGHTS = (20, 25, 12, 6, 5, 20, 12)  # a plausible mix: most rate well, some ignore it


class Run:
    """The sandbox, a controller with the survey on, and the agents' phones."""

    def __init__(self, work: Path, calls: int) -> None:
        self.work = work
        self.state = api.up()
        api.asterisk_cli("channel request hangup all")
        config = edited_config(REPO, work / "config", (
            ("survey:\n  enabled: false\n", "survey:\n  enabled: true\n"),
            ("  timeout_s: 6 ", "  timeout_s: 3 "),
            ("  enabled: true\n  lines: [main, unknown]", "  enabled: false\n  lines: [main, unknown]"),
            ("mqtt:\n  enabled: true", "mqtt:\n  enabled: false"),
            ("recording:\n  enabled: true", "recording:\n  enabled: false")))
        self.env = {"HOTLINE_AMI_HOST": self.state.ami_host,
                    "HOTLINE_AMI_PORT": str(self.state.ami_port),
                    "HOTLINE_AMI_USER": self.state.ami_user,
                    "HOTLINE_AMI_SECRET": self.state.ami_secret}
        self.controller = ControllerProcess(config, work / "run", work / "controller.log",
                                            extra_env=self.env)
        self.controller.start()
        self.hotline("agent", "--config", str(config), "logout", "--all")
        self.hotline("agent", "--config", str(config), "login", *AGENTS)
        self.phones: list[SippPeer] = [
            answering_peer(self.state.peer_ports[f"agent-{a}"], work, calls=calls,
                           scenario="agent_answer_hangup.xml", hold_ms=1000, timeout_s=3600,
                           name=f"agent-{a}") for a in AGENTS]

    def hotline(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "ivr.cli.main", *args],
            env={**os.environ, **self.env, "HOTLINE_RUN_DIR": str(self.controller.run_dir)},
            capture_output=True, text=True, timeout=60, check=True)
        return result.stdout

    def call_id_of(self, caller: str, timeout_s: float = 60) -> str | None:
        masked = mask_number(caller)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for record in self.controller.calls.records():
                if (record.first("decided") or {}).get("caller") == masked:
                    return record.call_id
            time.sleep(0.2)
        return None

    def step(self, call_id: str, step: str, timeout_s: float) -> dict[str, Any] | None:
        try:
            _, entry = self.controller.wait_for_step(step, timeout_s=timeout_s, call_id=call_id)
        except TimeoutError:
            return None
        return entry

    def caller(self, i: int, behaviour: str, rng: random.Random) -> dict[str, Any]:
        number = f"139{i:08d}"  # masked 139******NN: unique per run below 100 calls
        with RtpParty(CALLER_HZ) as rtp:
            hangup = behaviour == "hangup"
            peer = rtp_call("12345", self.work, rtp.port,
                            scenario="rtp_caller_hangup.xml" if hangup else "rtp_caller.xml",
                            caller=number, hold_ms=14_000 if hangup else 3000, timeout_s=240,
                            name=f"caller-{i}")
            call_id = self.call_id_of(number)
            started = self.step(call_id, "survey_started", 90) if call_id else None
            if started is not None and behaviour.isdigit():
                time.sleep(rng.uniform(0.3, 6.0))  # somewhere in the ~11 s prompt
                rtp.send_dtmf(behaviour)
            peer.wait(240)
            rated = self.step(call_id, "rated", 60) if call_id and started else None
        return {"i": i, "behaviour": behaviour, "call_id": call_id,
                "surveyed": started is not None,
                "outcome": rated and rated.get("outcome"), "level": rated and rated.get("level")}

    def close(self) -> None:
        for phone in self.phones:
            phone.stop()
        try:
            self.hotline("agent", "--config", str(self.controller.config_dir), "logout", "--all")
        finally:
            self.controller.stop()


def expected(behaviour: str) -> tuple[str, int | None]:
    if behaviour.isdigit():
        return "rated", int(behaviour)
    return ("no_input", None) if behaviour == "silent" else ("hangup", None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=54)
    parser.add_argument("--wave", type=int, default=len(AGENTS))
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    plan = rng.choices(BEHAVIOURS, WEIGHTS, k=args.calls)
    work = Path(tempfile.mkdtemp(prefix="bench-ratings-"))
    run = Run(work, args.calls)
    results: list[dict[str, Any]] = []
    t0 = time.monotonic()
    try:
        for start in range(0, args.calls, args.wave):
            wave = list(enumerate(plan))[start:start + args.wave]
            with ThreadPoolExecutor(len(wave)) as pool:
                results.extend(pool.map(
                    lambda item: run.caller(item[0], item[1], random.Random(args.seed + item[0])),
                    wave))
            print(f"{len(results)}/{args.calls} calls", file=sys.stderr)
            time.sleep(11)  # the agents' wrap-up (acd.wrapup_s 10 s) is over
        summary = json.loads(run.hotline("ratings", "--json", "--last", "0"))
    finally:
        run.close()
    surveyed = [r for r in results if r["surveyed"]]
    matched = sum(1 for r in surveyed if (r["outcome"], r["level"]) == expected(r["behaviour"]))
    total = summary["total"] or {}
    report = {
        "calls": args.calls, "seed": args.seed, "wall_s": round(time.monotonic() - t0, 1),
        "behaviour": dict(Counter(plan)),
        "surveyed": len(surveyed),
        "stored": total.get("surveyed"),
        "rated": total.get("rated"),
        "rated_share": round(total["rated"] / total["surveyed"], 3) if total.get("surveyed") else None,
        "not_rated": total.get("not_rated"),
        "satisfaction": total.get("satisfaction"),
        "distribution": total.get("distribution"),
        "outcomes": dict(Counter(str(r["outcome"]) for r in surveyed)),
        "stored_as_the_caller_did": f"{matched}/{len(surveyed)}",
        "mismatches": [r for r in surveyed if (r["outcome"], r["level"]) != expected(r["behaviour"])],
        "never_surveyed": [r for r in results if not r["surveyed"]],
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if matched == len(surveyed) and surveyed else 1


if __name__ == "__main__":
    raise SystemExit(main())
