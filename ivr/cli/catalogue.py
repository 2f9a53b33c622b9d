"""``hotline catalogue timeline|diff|export``: a region's merger over time, for admins.

The computation lives in :mod:`ivr.catalogue.timeline` and :mod:`ivr.catalogue.table`;
this module parses arguments, loads the configuration and prints.  ``check_notes`` gives
``hotline check`` the dates the plans do not state, as located notes.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.core.cli import CliError, load_config

if TYPE_CHECKING:
    from ivr.config.engine import EngineConfig


def add_catalogue(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline catalogue timeline|diff|export``."""
    parser = sub.add_parser("catalogue", help="a region's merger over time: timeline, diff, "
                                              "per-number export")
    actions = parser.add_subparsers(dest="catalogue_command", required=True)
    timeline = actions.add_parser("timeline", help="every dated change, in order, with the "
                                                   "plan item")
    diff = actions.add_parser("diff", help="numbers whose treatment changes between two dates")
    diff.add_argument("--from", dest="start", type=_day, required=True, metavar="DATE")
    diff.add_argument("--to", dest="end", type=_day, required=True, metavar="DATE")
    export = actions.add_parser("export", help="the per-number routing table on a date")
    export.add_argument("--at", type=_day, required=True, metavar="DATE")
    export.add_argument("--format", choices=("csv",), default="csv")
    for action, func in ((timeline, _timeline), (diff, _diff), (export, _export)):
        action.add_argument("--region", help="a catalogue region (default: the deployment's)")
        action.add_argument("--config", type=Path, default=None,
                            help="the configuration directory (as for hotline check)")
        action.set_defaults(func=func)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _load(args: argparse.Namespace) -> tuple[EngineConfig, str]:
    config = load_config(args.config, cached=True)
    region = args.region or config.region
    if region not in config.catalogue.regions:
        raise CliError(f"unknown region {region!r}; the catalogue has "
                       f"{', '.join(sorted(config.catalogue.regions))}", status=2)
    return config, region


def _timeline(args: argparse.Namespace) -> int:
    from ivr.catalogue.timeline import timeline

    config, region = _load(args)
    issued = config.catalogue.regions[region].issued
    for change in timeline(config.catalogue, region):
        flag = "  [assumed]" if change.assumed else ""
        remark = f"; 备注 {change.remark}" if change.remark else ""
        when = f"{change.day}" + ("*" if change.day == issued else " ")
        print(f"{when}  {change.phase.value:<14} {change.mode.value:<11} "
              f"{change.number}  {change.name}  ({change.plan_item}{remark}){flag}")
    print(f"* {issued}: the plan's issue date (the line's state when it is issued)")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from ivr.catalogue.table import table_diff

    if args.end < args.start:
        raise CliError("--to comes before --from", status=2)
    config, region = _load(args)
    changes = table_diff(config, region, args.start, args.end)
    for change in changes:
        old, new = change.before, change.after
        print(f"{new.number}  {new.name}: {_treatment(old)}  ->  {_treatment(new)}")
    print(f"{len(changes)} numbers change between {args.start} and {args.end} ({region})")
    return 0


def _treatment(row: object) -> str:
    from ivr.catalogue.table import Row

    assert isinstance(row, Row)
    where = row.dial or row.queue
    return f"{row.phase} [{row.prompts or '-'}] {row.target} {where}".rstrip()


def _export(args: argparse.Namespace) -> int:
    from ivr.catalogue.table import COLUMNS, routing_table

    config, region = _load(args)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in routing_table(config, region, args.at):
        writer.writerow(row.cells())
    return 0


def check_notes(config: EngineConfig) -> list[str]:
    """``file:line: key: note: …`` for every assumed date of the deployment's region."""
    from ivr.catalogue.timeline import assumed_dates
    from ivr.config.engine import CATALOGUE_FILE
    from ivr.config.yamlsrc import load_located

    doc = load_located(Path(config.directory) / CATALOGUE_FILE)
    notes = []
    for item in assumed_dates(config.catalogue, config.region):
        path = ("regions", config.region, "schedule", "assumed", item.key.value)
        notes.append(str(doc.problem(
            path, f"note: assumed date ({item.dates}; {item.followers} lines follow it); "
                  f"the plan states only: {item.basis}; confirm or override it in "
                  f"routing_rules.yaml deployment.schedule.{item.key.value}")))
    return notes
