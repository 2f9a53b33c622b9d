"""``hotline listening report``: how speech pre-classification is doing, from the call records."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ivr.core.rundir import RunDir


def add_listening(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline listening report``."""
    parser = sub.add_parser("listening", help="speech pre-classification on live calls")
    actions = parser.add_subparsers(dest="listening_command", required=True)
    report = actions.add_parser("report", help="rate, 15 s budget, where callers went")
    report.add_argument("--store", type=Path, metavar="PATH",
                        help="the call store (default $HOTLINE_RUN_DIR/calls.db)")
    report.add_argument("--budget-ms", type=int, default=15_000)
    report.add_argument("--json", action="store_true")
    report.add_argument("--html", type=Path, metavar="FILE", help="also write a page here")
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from ivr.core.callstore import CallStoreReader
    from ivr.listening.report import render_html, summarise

    path: Path = args.store or RunDir.from_env().calls_db
    summary = summarise(CallStoreReader(path).records(), args.budget_ms)
    if args.html:
        args.html.write_text(render_html(summary), encoding="utf-8")
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return 0
    timing = summary["answer_to_decision_ms"]
    latency = summary["end_of_speech_to_decision_ms"]

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value / 1000:.1f} s"

    print(f"calls routed {summary['calls']}, listened to {summary['listened']}, routed on speech "
          f"{summary['pre_classified']} ({share(summary['pre_classified_share'])})")
    print(f"answer -> decision: median {seconds(timing['median'])}, p95 {seconds(timing['p95'])}, "
          f"max {seconds(timing['max'])}; within {summary['budget_ms'] // 1000} s: "
          f"{summary['within_budget']}/{timing['n']} ({share(summary['within_budget_share'])})")
    if latency["n"]:
        print(f"end of speech -> decision: median {latency['median']:.0f} ms, "
              f"p95 {latency['p95']:.0f} ms")
    for title in ("outcomes", "targets", "domains", "emergencies", "out_of_scope"):
        if summary[title]:
            print(f"{title}: " + ", ".join(f"{k} {v}" for k, v in summary[title].items()))
    if args.html:
        print(f"page written to {args.html}")
    return 0
