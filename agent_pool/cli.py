"""``hotline agent …``, ``hotline queue status`` and ``hotline acd render``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from agent_pool.asterisk_conf import render_queue_rules, render_queues
from agent_pool.commands import AgentCommandError, AgentCommands, UnknownAgentError
from agent_pool.tracker import AcdTracker
from ivr.ami.client import AmiError, connect
from ivr.config.engine import EngineConfig
from ivr.core.cli import load_config
from ivr.core.rundir import RunDir
from ivr.core.settings import ami_settings
from ivr.prompts.library import PromptLibrary


def _config(args: argparse.Namespace) -> EngineConfig:
    """The located, validated configuration (errors go to the CLI's one error path)."""
    return load_config(args.config)


def add_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``agent``, ``queue`` and ``acd`` subcommands."""
    agent = sub.add_parser("agent", help="log agents in and out, pause, resume, list")
    agent.add_argument("--config", type=Path, default=None)
    actions = agent.add_subparsers(dest="agent_action", required=True)
    for name in ("login", "logout", "pause", "resume"):
        p = actions.add_parser(name)
        p.add_argument("agent", nargs="*", help="agent id(s) or phone interface(s)")
        if name == "pause":
            p.add_argument("--reason", default="1", help="code from acd.pause_reasons or text")
        if name == "login":
            p.add_argument("--paused", action="store_true")
        if name == "logout":
            p.add_argument("--all", action="store_true", help="every member of every ACD queue")
    listing = actions.add_parser("list")
    listing.add_argument("--json", action="store_true")
    agent.set_defaults(func=_agent)

    queue = sub.add_parser("queue", help="live ACD metrics")
    queue_actions = queue.add_subparsers(dest="queue_action", required=True)
    status = queue_actions.add_parser("status")
    status.add_argument("--json", action="store_true")
    status.add_argument("--all", action="store_true", help="also queues with no traffic")
    status.add_argument("--html", nargs="?", const="", default=None, metavar="FILE",
                        help="the live page is the controller's wallboard: print its URL "
                             "(supervisors log in); with FILE, also write a link to it there")
    status.add_argument("--config", type=Path, default=None)
    queue.set_defaults(func=_queue)

    acd = sub.add_parser("acd", help="app_queue configuration for an existing Asterisk")
    acd.add_argument("what", choices=["queues", "rules"])
    acd.add_argument("--config", type=Path, default=None)
    acd.set_defaults(func=_acd)


def _agent(args: argparse.Namespace) -> int:
    config = _config(args)
    return asyncio.run(_agent_async(args, config))


async def _agent_async(args: argparse.Namespace, config: EngineConfig) -> int:
    try:
        async with connect(ami_settings(RunDir.from_env())) as ami:
            if args.agent_action == "list":
                tracker = AcdTracker(lambda: config.roster, lambda: config.rules.acd.wrapup_s)
                tracker.resync(await ami.action_list("QueueStatus"), datetime.now(UTC))
                return _print_agents(tracker, config, args.json)
            commands = AgentCommands(ami, config.roster, config.catalogue,
                                     config.rules.acd.pause_reasons)
            if args.agent_action == "logout" and args.all:
                print(f"removed {await commands.logout_all()} queue membership(s)")
                return 0
            if not args.agent:
                print("name at least one agent", file=sys.stderr)
                return 1
            for who in args.agent:
                if args.agent_action == "login":
                    result = await commands.login(who, paused=args.paused)
                elif args.agent_action == "logout":
                    result = await commands.logout(who)
                elif args.agent_action == "pause":
                    result = await commands.pause(who, args.reason)
                else:
                    result = await commands.resume(who)
                print(f"agent {result.agent}: {result.action} ({result.queues} queues)"
                      f"{' ' + result.detail if result.detail else ''}")
    except (UnknownAgentError, AgentCommandError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except (OSError, TimeoutError, AmiError) as exc:
        print(f"cannot reach Asterisk's AMI: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_agents(tracker: AcdTracker, config: EngineConfig, as_json: bool) -> int:
    rows: list[dict[str, object]] = []
    for agent in config.roster.agents:
        status = tracker.agents.get(agent.interface.lower())
        state = status.state.value if status else "logged_out"
        reason = status.pause_reason if status else ""
        rows.append({"agent": agent.id, "name": agent.name, "interface": agent.interface,
                     "state": state, "pause_reason": reason, "skills": agent.skills,
                     "queues": len(status.queues) if status else 0})
        if not as_json:
            skills = ",".join(f"{k}:{v}" for k, v in agent.skills.items())
            shown = f"{state} ({reason})" if reason else state
            print(f"{agent.id:6} {agent.name:6} {agent.interface:18} {shown:18} {skills}")
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    return 0


def _wallboard(args: argparse.Namespace) -> int:
    """``--html``: the live queue page is the wallboard the controller serves (ivr/web),
    not a file rewritten here: its URL, and with FILE a page that opens it."""
    web = _config(args).rules.web
    if not web.enabled:
        print("the wallboard is off (web.enabled: false in routing_rules.yaml)", file=sys.stderr)
        return 2
    host = "127.0.0.1" if web.host in ("0.0.0.0", "") else web.host
    host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
    url = f"http://{host}:{web.port}/wallboard"
    print(f"live queue page: {url} (log in as a supervisor)", file=sys.stderr if args.json else sys.stdout)
    if args.html:
        link = (f"<!doctype html><meta charset=utf-8><meta http-equiv=refresh content='0;url={url}'>"
                f"<title>12345</title><a href='{url}'>{url}</a>\n")
        Path(args.html).write_text(link, encoding="utf-8")
    return 0


def _queue(args: argparse.Namespace) -> int:
    if args.html is not None and (problem := _wallboard(args)):
        return problem
    path = RunDir.from_env().acd_snapshot
    if not path.exists():
        print(f"no ACD snapshot at {path}: is `hotline run` running?", file=sys.stderr)
        return 0 if args.html is not None else 2
    data = json.loads(path.read_text(encoding="utf-8"))
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    sl = data["service_level"]
    ab = data["abandon_rate"]
    print(f"at {data['at']}  waiting {data['waiting']}  longest wait {data['longest_wait_s']} s  "
          f"answered {data['answered']}  abandoned {data['abandoned']}")
    print(f"service level (<= {data['service_level_target_s']:.0f} s): "
          f"{'-' if sl is None else f'{sl:.1%}'}   abandon rate: "
          f"{'-' if ab is None else f'{ab:.1%}'}")
    print("agents: " + ", ".join(f"{k} {v}" for k, v in sorted(data["agents"].items())))
    print(f"{'queue':28} {'wait':>4} {'longest':>7} {'offered':>7} {'answered':>8} "
          f"{'abandon':>7} {'SL':>6}")
    for row in data["queues"]:
        if not args.all and not row["offered"] and not row["waiting"]:
            continue
        level = "-" if row["service_level"] is None else f"{row['service_level']:.0%}"
        print(f"{row['queue']:28} {row['waiting']:>4} {row['longest_wait_s']:>7} "
              f"{row['offered']:>7} {row['answered']:>8} {row['abandoned']:>7} {level:>6}")
    return 0


def _acd(args: argparse.Namespace) -> int:
    config = _config(args)
    acd = config.rules.acd
    if args.what == "queues":
        comfort = acd.announce.comfort_prompt
        recordings = (args.config or Path(".")) / "recordings"
        sound = PromptLibrary(recordings).sound_name(comfort) if comfort else None
        print(render_queues(config.catalogue, config.roster, acd, sound), end="")
    else:
        print(render_queue_rules(acd), end="")
    return 0
