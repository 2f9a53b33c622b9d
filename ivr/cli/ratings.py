"""``hotline ratings`` (好差评: listing and satisfaction) and ``hotline followups``
(回访 of bad ratings: open items with due dates, ``done ID --note TEXT``)."""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.core.cli import CliError

if TYPE_CHECKING:
    from ivr.ratings.report import Satisfaction
    from ivr.ratings.store import RatingStore

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

DB_NAME = "ratings.db"
LEVEL_CHOICES = ("1", "2", "3", "4", "5", "not-rated")


def add_cli(sub: SubParsers) -> None:
    """``hotline ratings`` and ``hotline followups``."""
    ratings = sub.add_parser("ratings", help="post-call ratings (好差评) and satisfaction")
    ratings.add_argument("--period", metavar="YYYY[-MM[-DD]]",
                         help="a year, month or day (Asia/Shanghai)")
    ratings.add_argument("--since", metavar="ISO8601", help="from this time (naive: Asia/Shanghai)")
    ratings.add_argument("--until", metavar="ISO8601", help="before this time")
    ratings.add_argument("--agent", metavar="ID")
    ratings.add_argument("--skill", metavar="SKILL")
    ratings.add_argument("--line", metavar="NUMBER", help="the dialled number")
    ratings.add_argument("--level", choices=LEVEL_CHOICES,
                         help="1 非常满意 … 5 非常不满意, or not-rated")
    ratings.add_argument("--last", type=int, default=50, metavar="N",
                         help="list the newest N ratings (default 50; 0: summary only)")
    ratings.add_argument("--json", action="store_true")
    _db_arg(ratings)
    ratings.set_defaults(func=_ratings)

    followups = sub.add_parser("followups", help="follow-ups (回访) of bad ratings")
    followups.add_argument("--all", action="store_true", help="closed ones too")
    followups.add_argument("--group", metavar="GROUP", help="one supervisor group")
    followups.add_argument("--today", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                           help="the day overdue is judged against (default: today, Asia/Shanghai)")
    followups.add_argument("--json", action="store_true")
    _db_arg(followups)
    followups.set_defaults(func=_followups)
    actions = followups.add_subparsers(dest="followup_action")
    done = actions.add_parser("done", help="close a follow-up with a note")
    done.add_argument("followup_id", metavar="ID")
    done.add_argument("--note", required=True, help="what was done (回访 result)")
    done.add_argument("--by", metavar="WHO", help="who followed up")
    _db_arg(done)
    done.set_defaults(func=_done)


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help=f"the database (default $HOTLINE_RUN_DIR/{DB_NAME})")


def _open(args: argparse.Namespace, create: bool = False) -> RatingStore | None:
    from ivr.controller.settings import default_run_dir
    from ivr.core.rundir import RunDir, RunDirError
    from ivr.ratings.store import RatingsStoreError, RatingStore

    path: Path = args.db if args.db is not None else default_run_dir() / DB_NAME
    try:
        if args.db is None:
            RunDir(path.parent).check()
        if not path.exists() and not create:
            return None
        return RatingStore(path)
    except (RunDirError, RatingsStoreError, sqlite3.Error) as exc:
        raise CliError(f"cannot open {path}: {exc}") from None


def _local(text: str) -> datetime:
    from ivr.ratings.store import LOCAL_TZ

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"not an ISO 8601 time: {text!r}", status=2) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=LOCAL_TZ)


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """``2025``, ``2025-10`` or ``2025-10-08`` as [start, end) in Asia/Shanghai."""
    from ivr.ratings.store import LOCAL_TZ

    parts = period.split("-")
    try:
        numbers = [int(p) for p in parts]
        if len(numbers) == 1:
            start, end = date(numbers[0], 1, 1), date(numbers[0] + 1, 1, 1)
        elif len(numbers) == 2:
            start = date(numbers[0], numbers[1], 1)
            end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        elif len(numbers) == 3:
            start = date(*numbers)
            end = start + timedelta(days=1)
        else:
            raise ValueError(period)
    except ValueError:
        raise CliError(f"--period: {period!r} is not YYYY, YYYY-MM or YYYY-MM-DD",
                       status=2) from None
    return (datetime.combine(start, datetime.min.time(), LOCAL_TZ),
            datetime.combine(end, datetime.min.time(), LOCAL_TZ))


def _ratings(args: argparse.Namespace) -> int:
    from ivr.ratings.report import BY, satisfaction
    from ivr.ratings.store import RatingFilter

    since = until = None
    if args.period:
        since, until = period_bounds(args.period)
    if args.since:
        since = _local(args.since)
    if args.until:
        until = _local(args.until)
    level = None if args.level is None else (0 if args.level == "not-rated" else int(args.level))
    where = RatingFilter(since=since, until=until, agent=args.agent, skill=args.skill,
                         line=args.line, level=level)
    store = _open(args)
    if store is None:
        rows = []
    else:
        try:
            rows = store.ratings(where)
        finally:
            store.close()
    overall = satisfaction(rows)
    groups = {name: satisfaction(rows, key) for name, key in BY.items()}
    shown = rows[-args.last:] if args.last > 0 else []
    if args.json:
        print(json.dumps({"ratings": [r.to_json() for r in shown],
                          "total": overall[0].to_json() if overall else None,
                          **{f"by_{name}": [g.to_json() for g in items]
                             for name, items in groups.items()}},
                         ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no ratings match")
        return 0
    if shown:
        print(f"{'AT (Asia/Shanghai)':<20} {'CALL ID':<20} {'LEVEL':<12} {'OUTCOME':<9} "
              f"{'AGENT':<8} {'SKILL':<18} LINE")
        for r in shown:
            from ivr.ratings.store import LOCAL_TZ

            at = r.at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
            shown_level = f"{int(r.level)} {r.label}" if r.level is not None else r.label
            print(f"{at:<20} {r.call_id:<20} {shown_level:<12} {r.outcome!s:<9} {r.agent or '-':<8} "
                  f"{r.skill or '-':<18} {r.line or '-'}")
        print()
    print(_table("total", overall))
    for name, items in groups.items():
        print(_table(name, items))
    return 0


def _table(title: str, items: list[Satisfaction]) -> str:
    from ivr.ratings.parser import Level

    lines = [f"{'BY ' + title.upper():<18} {'SURVEYED':>8} {'RATED':>6} {'SATISFACTION':>12}  "
             + " ".join(f"{level.label:>6}" for level in Level) + "  未评价"]
    for item in items:
        share = f"{item.satisfaction:.1%}" if item.satisfaction is not None else "-"
        counts = " ".join(f"{item.counts[level]:>6}" for level in Level)
        lines.append(f"{item.key:<18} {item.surveyed:>8} {item.rated:>6} {share:>12}  {counts}"
                     f"  {item.not_rated:>6}")
    return "\n".join(lines) + "\n"


def _followups(args: argparse.Namespace) -> int:
    from ivr.ratings.model import FollowUpStatus
    from ivr.ratings.store import LOCAL_TZ

    today = args.today or datetime.now(LOCAL_TZ).date()
    store = _open(args)
    if store is None:
        items = []
    else:
        try:
            items = store.followups(None if args.all else FollowUpStatus.OPEN, args.group)
        finally:
            store.close()
    if args.json:
        print(json.dumps([f.to_json(today) for f in items], ensure_ascii=False, indent=2))
        return 0
    if not items:
        print("no open follow-ups" if not args.all else "no follow-ups")
        return 0
    print(f"{'ID':<16} {'DUE':<11} {'':<8} {'STATUS':<6} {'GROUP':<10} {'LEVEL':<12} "
          f"{'AGENT':<8} {'CALLER':<13} CALL ID")
    for f in items:
        flag = "OVERDUE" if f.overdue(today) else ""
        print(f"{f.id:<16} {f.due.isoformat():<11} {flag:<8} {f.status!s:<6} {f.group:<10} "
              f"{int(f.level)} {f.level.label:<10} {f.agent or '-':<8} {f.caller_masked or '-':<13} "
              f"{f.call_id}" + (f"  note: {f.note}" if f.note else ""))
    return 0


def _done(args: argparse.Namespace) -> int:
    from ivr.ratings.model import RatingsError
    from ivr.ratings.store import LOCAL_TZ

    store = _open(args)
    if store is None:
        raise CliError(f"no follow-up {args.followup_id} (no ratings yet)")
    try:
        item = store.close_followup(args.followup_id, datetime.now(LOCAL_TZ), args.note, args.by)
    except RatingsError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    print(f"{item.id} done ({item.call_id}, {item.level.label}): {item.note}")
    return 0
