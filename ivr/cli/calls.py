"""``hotline calls``: recorded calls from the call store (caller numbers masked).

Imports only the standard library and the call store, so ``hotline calls ID`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from typing import Any

from ivr.core.callstore import CallQuery, CallStoreReader
from ivr.core.rundir import RunDir

LOCAL_ZONE = "Asia/Shanghai"


def _moment(text: str, *, end_of_day: bool) -> datetime:
    """ISO 8601 or YYYY-MM-DD (naive = Asia/Shanghai); a bare date ends at midnight after it."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo(LOCAL_ZONE))
    if end_of_day and len(text) == 10:
        value += timedelta(days=1)
    return value


def _since(text: str) -> datetime:
    return _moment(text, end_of_day=False)


def _until(text: str) -> datetime:
    return _moment(text, end_of_day=True)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_calls(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hotline calls``."""
    parser = sub.add_parser("calls", help="list recorded calls (masked)")
    parser.add_argument("call_id", nargs="?", help="show every step of this call")
    parser.add_argument("--json", action="store_true", help="one JSON summary per line")
    parser.add_argument("--since", type=_since, metavar="ISO|YYYY-MM-DD",
                        help="calls that started at or after this time")
    parser.add_argument("--until", type=_until, metavar="ISO|YYYY-MM-DD",
                        help="calls that started before this time (a date: up to its end)")
    parser.add_argument("--number", metavar="N", help="calls to this dialled number")
    parser.add_argument("--last", type=_positive, default=20, metavar="N",
                        help="the newest N matching calls (default 20)")
    parser.add_argument("--page", type=_positive, default=1, metavar="K",
                        help="page K of --last N, counting back from the newest (default 1)")
    parser.set_defaults(func=cmd_calls)


def _line(summary: dict[str, Any]) -> str:
    return (f"{summary['at']} {summary['call_id']} {summary['number']} "
            f"{summary['caller']} {summary['mode']}/{summary['phase']} "
            f"-> {summary['target']} {summary['dial_status'] or ''}"
            f"{' FALLBACK' if summary['fallback'] else ''}")


def cmd_calls(args: argparse.Namespace) -> int:
    """Print one call's steps, or a page of call summaries, oldest first."""
    reader = CallStoreReader(RunDir.from_env().calls_db)
    if args.call_id:
        record = reader.get(args.call_id)
        if record is None:
            print(f"no call {args.call_id}", file=sys.stderr)
            return 1
        print(json.dumps(record.steps, ensure_ascii=False, indent=2))
        return 0
    query = CallQuery(since=args.since, until=args.until, number=args.number,
                      last=args.last, offset=(args.page - 1) * args.last)
    for record in reader.calls(query):
        summary = record.summary
        print(json.dumps(summary, ensure_ascii=False) if args.json else _line(summary))
    return 0
