"""``hotline transfer start|cancel|leave|list|show``: agents' transfers from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ivr.controller.settings import default_run_dir

LOCAL = ZoneInfo("Asia/Shanghai")


def add_transfer(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hotline transfer``."""
    parser = sub.add_parser(
        "transfer", help="three-way, blind and emergency transfers of a live call",
        description="Transfer a caller talking with a 12345 agent.  TARGET: an endpoint of "
                    "routing_rules.yaml (subcenter-12366, utility-power…), a line number with a "
                    "sub-center (12366), 'line' (the dialled line's sub-center), "
                    "110/119/120/122 (one-key emergency transfer) or expert:<number>.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    start = verbs.add_parser("start", help="start a transfer")
    start.add_argument("call_id")
    start.add_argument("target")
    how = start.add_mutually_exclusive_group()
    how.add_argument("--blind", dest="mode", action="store_const", const="blind",
                     help="release the agent at once")
    how.add_argument("--stay", dest="mode", action="store_const", const="stay",
                     help="keep talking with the caller while the target rings")
    start.add_argument("--summary", help="the case, for the target and any work order")
    start.add_argument("--json", action="store_true")
    start.set_defaults(func=_start, mode="attended")
    for verb, text in (("cancel", "drop the target; the caller stays with the agent"),
                       ("leave", "the agent leaves the three-way call")):
        one = verbs.add_parser(verb, help=text)
        one.add_argument("call_id")
        one.add_argument("--json", action="store_true")
        one.set_defaults(func=_simple, op=f"transfer.{verb}")
    listing = verbs.add_parser("list", help="transfers this controller knows")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    show = verbs.add_parser("show", help="a call's transfers, step by step, from the call record")
    show.add_argument("call_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)


def _control(op: str, **args: Any) -> Any:
    from ivr.control.client import ControlUnavailable, call

    try:
        response = call(default_run_dir() / "control.sock", op, **args)
    except ControlUnavailable as exc:
        print(f"hotline transfer: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    if not response.get("ok"):
        print(f"hotline transfer: {response.get('error')}", file=sys.stderr)
        raise SystemExit(1)
    return response.get("result")


def _line(transfer: dict[str, Any]) -> str:
    return (f"{transfer['id']} call={transfer['call_id']} -> {transfer['target']} "
            f"({transfer['target_kind']}, {transfer['mode']}) {transfer['state']}"
            f"{' ' + transfer['outcome'] if transfer.get('outcome') else ''}"
            f"{' workorder=' + transfer['workorder'] if transfer.get('workorder') else ''}")


def _start(args: argparse.Namespace) -> int:
    transfer = _control("transfer.start", call_id=args.call_id, target=args.target,
                        mode=args.mode, summary=args.summary)
    print(json.dumps(transfer, ensure_ascii=False) if args.json else _line(transfer))
    return 0


def _simple(args: argparse.Namespace) -> int:
    transfer = _control(args.op, call_id=args.call_id)
    print(json.dumps(transfer, ensure_ascii=False) if args.json else _line(transfer))
    return 0


def _list(args: argparse.Namespace) -> int:
    offset: int | None = 0
    while offset is not None:  # page by page: each answer stays well under the line limit
        result = _control("transfer.list", offset=offset)
        if isinstance(result, list):  # a controller from before paging
            result = {"items": result, "next": None}
        for transfer in result["items"]:
            print(json.dumps(transfer, ensure_ascii=False) if args.json else _line(transfer))
        following = result.get("next")
        offset = following if isinstance(following, int) and following > offset else None
    return 0


def _show(args: argparse.Namespace) -> int:
    from ivr.core.callstore import CallStoreReader
    from ivr.core.rundir import RunDir

    record = CallStoreReader(RunDir.from_env().calls_db).get(args.call_id)
    steps = [s for s in (record.steps if record else []) if s["step"].startswith("transfer_")]
    if not steps:
        print(f"no transfers recorded for call {args.call_id}", file=sys.stderr)
        return 1
    start = datetime.fromisoformat(steps[0]["at"])
    for step in steps:
        if args.json:
            print(json.dumps(step, ensure_ascii=False))
            continue
        at = datetime.fromisoformat(step["at"])
        details = " ".join(f"{k}={v}" for k, v in step.items()
                           if k not in ("at", "call_id", "step", "summary") and v not in (None, ""))
        print(f"{at.astimezone(LOCAL):%H:%M:%S.%f}"[:-3]
              + f" +{(at - start).total_seconds():6.2f}s {step['step']:<26} {details}")
    return 0
