"""The ``hotline`` command.

Subcommands are registered from a table of (name, module, function): only the module of the
subcommand on the command line is imported, so ``hotline route`` or ``hotline calls`` never
pays for the controller, the ACD or the speech stack. ``hotline --help`` (or no known
subcommand) imports them all to list them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

#: subcommand -> (module, function registering it on the subparsers), in ``--help`` order.
#: One function may register several subcommands (the ACD's agent/queue/acd).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("ivr.cli.commands", "add_run"),
    "route": ("ivr.cli.commands", "add_route"),
    "check": ("ivr.cli.commands", "add_check"),
    "config": ("ivr.cli.commands", "add_config"),
    "calls": ("ivr.cli.calls", "add_calls"),
    "report": ("ivr.cli.report", "add_report"),
    "callbacks": ("ivr.cli.commands", "add_callbacks"),
    "workorder": ("ivr.cli.workorders", "add_workorder"),
    "transfer": ("ivr.cli.transfers", "add_transfer"),
    "listening": ("ivr.cli.listening", "add_listening"),
    "catalogue": ("ivr.cli.catalogue", "add_catalogue"),
    "mqtt": ("ivr.cli.mqtt", "add_mqtt"),
    "department": ("ivr.cli.department", "add_department"),
    "events": ("ivr.cli.events", "add_events"),
    "recordings": ("ivr.cli.recordings", "add_recordings"),
    "audit": ("ivr.cli.audit", "add_audit"),
    "supervise": ("ivr.cli.supervise", "add_supervise"),
    "ratings": ("ivr.cli.ratings", "add_cli"),
    "followups": ("ivr.cli.ratings", "add_cli"),
    "agent": ("agent_pool.cli", "add_cli"),
    "queue": ("agent_pool.cli", "add_cli"),
    "acd": ("agent_pool.cli", "add_cli"),
}


def _registrar(module: str, function: str) -> Callable[[SubParsers], None]:
    registrar: Callable[[SubParsers], None] = getattr(importlib.import_module(module), function)
    return registrar


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv`` naming a known subcommand, only that one is registered."""
    parser = argparse.ArgumentParser(prog="hotline",
                                     description="12345 government-service hotline engine")
    sub = parser.add_subparsers(dest="command", required=True)
    wanted = argv[0] if argv else None
    entries = [COMMANDS[wanted]] if wanted in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module, function in entries:
        _registrar(module, function)(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; the one place errors become messages and statuses."""
    from ivr.config.errors import ConfigError
    from ivr.core.cli import CliError

    args_in = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_in).parse_args(args_in)
    name = f"hotline {args.command}"
    try:
        result: int = args.func(args)
    except CliError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exc.status
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
