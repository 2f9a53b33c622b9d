"""``hotline report``: GB/T 33358 KPIs and merger traffic over a period, from the call store."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.core.cli import CliError

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
FORMATS = ("text", "csv", "json", "html")


def _bound(text: str, *, end: bool) -> datetime:
    """YYYY-MM-DD (a whole local day: ``--to`` includes it) or ISO 8601 (naive = Beijing time)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_ZONE)
    if end and len(text) == 10:
        value += timedelta(days=1)
    return value


def add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hotline report``."""
    parser = sub.add_parser("report", help="KPIs (GB/T 33358) and merger traffic over a period")
    parser.add_argument("--from", dest="since", required=True, type=lambda t: _bound(t, end=False),
                        metavar="DATE", help="first day (YYYY-MM-DD, Beijing time) or ISO 8601 time")
    parser.add_argument("--to", dest="until", required=True, type=lambda t: _bound(t, end=True),
                        metavar="DATE", help="last day, included (or an ISO 8601 end, excluded)")
    parser.add_argument("--region", metavar="R",
                        help="only calls routed for this region (the decision's region)")
    parser.add_argument("--by", choices=("hour", "day", "skill", "line", "agent"),
                        help="one column per group as well as the total")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--db", metavar="FILE",
                        help="the call store (default $HOTLINE_RUN_DIR/calls.db)")
    parser.add_argument("--target-s", type=float, default=15.0,
                        help="the answer target in seconds (GB/T 33358: 15)")
    parser.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Compute the report and print or write it."""
    from ivr.core.rundir import RunDir
    from ivr.reports.report import build_report, render_csv, render_json, render_text
    from ivr.reports.source import period_facts

    if args.until <= args.since:
        raise CliError("--to must be after --from", status=2)
    path = Path(args.db) if args.db else RunDir.from_env().calls_db
    if args.db and not path.is_file():
        raise CliError(f"no call store at {path}")
    calls = period_facts(path, args.since, args.until)
    if args.region:
        calls = (c for c in calls if c.region == args.region)
    report = build_report(calls, args.since, args.until, by=args.by, target_s=args.target_s)
    if args.format == "html":
        from ivr.reports.html import render_html

        text = render_html(report)
    else:
        text = {"text": render_text, "csv": render_csv, "json": render_json}[args.format](report)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
