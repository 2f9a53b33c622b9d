"""The ``hotline`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent_pool.cli import add_cli as add_acd_cli
from ivr.cli import commands
from ivr.cli.listening import add_listening
from ivr.cli.transfers import add_transfer
from ivr.cli.workorders import add_workorder


def build_parser() -> argparse.ArgumentParser:
    """All subcommands."""
    parser = argparse.ArgumentParser(prog="hotline",
                                     description="12345 government-service hotline engine")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_run(sub)
    commands.add_route(sub)
    commands.add_check(sub)
    commands.add_calls(sub)
    commands.add_callbacks(sub)
    add_workorder(sub)
    add_transfer(sub)
    add_listening(sub)
    add_acd_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
