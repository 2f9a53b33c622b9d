"""Command line: ``sandbox up|down|status|restart``.

:func:`add_cli` registers the ``sandbox`` command on another program's
argparse sub-parsers (``hotline sandbox ...``); :func:`main` is the
stand-alone ``python -m hotline_sandbox ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from hotline_sandbox import api
from hotline_sandbox.errors import SandboxError
from hotline_sandbox.settings import SandboxSettings
from hotline_sandbox.state import SandboxState


def _settings(args: argparse.Namespace) -> SandboxSettings:
    settings = SandboxSettings.from_env()
    changes: dict[str, Any] = {}
    for name in ("sip_port", "ami_port", "agi_url", "boot_timeout"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    return settings.replace(**changes) if changes else settings


def describe(state: SandboxState) -> str:
    """Human-readable summary of a running sandbox."""
    uptime = time.time() - state.started_at
    where = f"chroot {state.root}" if state.kind == "chroot" else "host"
    peers = ", ".join(f"{name}:{port}" for name, port in state.peer_ports.items())
    lines = [
        f"sandbox:    running, Asterisk pid {state.pid}, up {uptime:.0f} s",
        f"asterisk:   {state.asterisk_version} ({where}, uid {state.uid})",
        f"SIP:        udp {state.sip_host}:{state.sip_port} (trunk context from-trunk)",
        f"AMI:        {state.ami_host}:{state.ami_port} user {state.ami_user}"
        f" (secret in {state.state_path})",
        f"AGI:        {state.agi_url}",
        f"config:     {state.config_dir}",
        f"sounds:     {state.sounds_dir}/hotline -> {state.recordings_dir}",
        f"logs:       {state.log_path}  {state.asterisk_log}",
        f"RTP:        {state.rtp_start}-{state.rtp_end}",
        f"test peers: {peers}",
    ]
    return "\n".join(lines)


def _cmd_up(args: argparse.Namespace) -> int:
    state = api.up(_settings(args))
    print(describe(state))
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    api.down(_settings(args))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    state = api.status(settings)
    if args.json:
        payload: dict[str, Any] = {"running": state is not None}
        if state is not None:
            payload.update(state.to_dict(redact_secret=not args.show_secret))
        print(json.dumps(payload, indent=2, sort_keys=True))
    elif state is None:
        stale = api.read_state(settings)
        if stale is not None:
            print(
                f"sandbox: not running (stale state {stale.state_path}:"
                f" pid {stale.pid} is gone; run `down`)"
            )
        else:
            print("sandbox: not running")
    else:
        print(describe(state))
    return 0 if state is not None else 3


def _cmd_restart(args: argparse.Namespace) -> int:
    settings = _settings(args)
    state = api.read_state(settings)
    if state is None:
        state = api.up(settings)
    elif args.full:
        # down + up with the same AMI secret
        api.down(settings)
        state = api.up(settings.replace(ami_secret=state.ami_secret))
    else:
        state = api.restart_asterisk(settings)
    print(describe(state))
    return 0


def _cmd_cli(args: argparse.Namespace) -> int:
    sys.stdout.write(api.asterisk_cli(" ".join(args.command), _settings(args)))
    return 0


def _add_port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sip-port", type=int, help="PJSIP UDP port (default 5060 or HOTLINE_SIP_PORT)"
    )
    parser.add_argument("--ami-port", type=int, help="AMI port (default 5038 or HOTLINE_AMI_PORT)")
    parser.add_argument("--agi-url", help="FastAGI URL (default agi://127.0.0.1:4573)")
    parser.add_argument(
        "--boot-timeout", type=float, help="seconds to wait for FullyBooted (default 30)"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``up|down|status|restart|cli`` sub-commands to *parser*."""
    commands = parser.add_subparsers(dest="sandbox_command", metavar="{up,down,status,restart,cli}")
    commands.required = True
    up = commands.add_parser("up", help="start Asterisk (creating the chroot on first use)")
    _add_port_options(up)
    up.set_defaults(sandbox_handler=_cmd_up)
    down = commands.add_parser("down", help="stop Asterisk, unmount, remove the state file")
    down.set_defaults(sandbox_handler=_cmd_down)
    stat = commands.add_parser("status", help="what runs where (exit 3 when not running)")
    stat.add_argument("--json", action="store_true", help="machine-readable output")
    stat.add_argument("--show-secret", action="store_true", help="include the AMI secret in --json")
    stat.set_defaults(sandbox_handler=_cmd_status)
    restart = commands.add_parser(
        "restart", help="restart Asterisk only (same secret, config, mounts)"
    )
    restart.add_argument(
        "--full", action="store_true", help="down + up instead, keeping the secret"
    )
    _add_port_options(restart)
    restart.set_defaults(sandbox_handler=_cmd_restart)
    cli = commands.add_parser("cli", help="run an Asterisk CLI command (asterisk -rx)")
    cli.add_argument("command", nargs="+", help="e.g. pjsip show endpoints")
    cli.set_defaults(sandbox_handler=_cmd_cli)


def run(args: argparse.Namespace) -> int:
    """Dispatch parsed arguments; errors become a message and exit status 1."""
    try:
        code: int = args.sandbox_handler(args)
    except (SandboxError, OSError) as exc:
        print(f"sandbox: error: {exc}", file=sys.stderr)
        return 1
    return code


def add_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sandbox`` on an ``ArgumentParser.add_subparsers()`` object.

    The caller dispatches with ``args.func(args)`` (the return value is the
    exit status), e.g.::

        sub = parser.add_subparsers(dest="command")
        add_cli(sub)
        args = parser.parse_args()
        sys.exit(args.func(args))
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox", help="local Asterisk sandbox: up|down|status|restart|cli"
    )
    configure(parser)
    parser.set_defaults(func=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hotline_sandbox up|down|status|restart|cli``."""
    parser = argparse.ArgumentParser(
        prog="python -m hotline_sandbox", description="Local Asterisk sandbox."
    )
    configure(parser)
    args = parser.parse_args(argv)
    return run(args)
