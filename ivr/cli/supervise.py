"""``hotline supervise listen|whisper|barge AGENT --as SUPERVISOR``: monitor a live call."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from ivr.controller.settings import default_run_dir

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

MODES = ("listen", "whisper", "barge")


def add_supervise(sub: SubParsers) -> None:
    """``hotline supervise MODE AGENT --as SUPERVISOR``."""
    parser = sub.add_parser(
        "supervise", help="ring a supervisor's phone into an agent's live call (ChanSpy): "
                          "listen (hears both, silent), whisper (only the agent hears the "
                          "supervisor), barge (all three talk); audited")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("agent", metavar="AGENT", help="the agent's id (agents.yaml)")
    parser.add_argument("--as", dest="supervisor", required=True, metavar="SUPERVISOR",
                        help="the supervisor's id (agents.yaml supervisors:); their phone rings")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=_supervise)


def _supervise(args: argparse.Namespace) -> int:
    from ivr.control.client import ControlUnavailable, call

    try:
        response = call(default_run_dir() / "control.sock", "supervise.start",
                        supervisor=args.supervisor, agent=args.agent, mode=args.mode)
    except ControlUnavailable as exc:
        print(f"hotline supervise: {exc}", file=sys.stderr)
        return 2
    if not response.get("ok"):
        print(f"hotline supervise: refused: {response.get('error')}", file=sys.stderr)
        return 1
    result: dict[str, Any] = response.get("result") or {}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{result['session']} {result['supervisor']} -> {args.mode} agent {args.agent} "
              f"({result['agent_channel']}) call={result['call_id']}")
    return 0
