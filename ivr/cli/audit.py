"""``hotline audit``: who listened to whom, who exported what, what retention deleted."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ivr.controller.settings import default_run_dir

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_audit(sub: SubParsers) -> None:
    """``hotline audit [--since T] [--actor WHO] [--json]`` (read-only: entries are never edited)."""
    parser = sub.add_parser("audit", help="the audit trail: monitoring, exports, deletions")
    parser.add_argument("--since", metavar="ISO8601")
    parser.add_argument("--actor", metavar="WHO")
    parser.add_argument("--limit", type=int, default=1000, metavar="N")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=_audit)


def _audit(args: argparse.Namespace) -> int:
    from ivr.quality.store import DB_NAME, QualityStore

    entries = QualityStore(default_run_dir() / DB_NAME).audit_entries(
        since=args.since, actor=args.actor, limit=args.limit)
    if args.json:
        print(json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=2))
        return 0
    print(f"{'#':>4} {'AT (UTC)':<26} {'ACTOR':<12} {'ACTION':<17} {'MODE':<15} {'CALL ID':<18} "
          "SUBJECT / OUTCOME")
    for e in entries:
        mode = e.mode or "-"
        if e.action == "monitor_mode":  # a switch during the session: from>to
            mode = f"{e.detail.get('from_mode', '?')}>{e.mode}"
        print(f"{e.id:>4} {e.at[:26]:<26} {e.actor:<12} {e.action:<17} {mode:<15} "
              f"{e.call_id or '-':<18} {e.subject} {e.outcome}")
    return 0
