"""``hotline department listen|accept|return|resolve``: the department side of work orders.

A reference client a department (or a tester) can use without writing code: ``listen``
prints each of the department's work orders once as it arrives and acknowledges it (the
hotline resends until it does); ``accept``/``return``/``resolve`` report what became of
an order and print the hotline's answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.core.cli import CliError, load_config

if TYPE_CHECKING:
    import aiomqtt

    from ivr.config.engine import EngineConfig
    from ivr.mqtt.topics import Topics

PASSWORD_ENV = "HOTLINE_MQTT_DEPT_PASSWORD"


def add_department(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline department …``."""
    parser = sub.add_parser("department", help="a department's work-order client over MQTT")
    actions = parser.add_subparsers(dest="department_command", required=True)

    listen = actions.add_parser("listen", help="print the department's work orders as they "
                                "arrive, and acknowledge them")
    listen.add_argument("department", metavar="DEPT")
    listen.add_argument("--by", default=os.environ.get("USER", "department"),
                        help="who acknowledges (default $USER)")
    listen.add_argument("--no-ack", action="store_true", help="print only; never acknowledge")
    listen.add_argument("--state", type=Path, metavar="FILE",
                        help="remember orders already shown across runs (one id per line)")
    listen.add_argument("--count", type=int, metavar="N", help="stop after N new orders")
    listen.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    listen.add_argument("--json", action="store_true", help="one JSON object per line")
    _common(listen)
    listen.set_defaults(func=_listen)

    for name, text in (("accept", "take the case on (签收)"),
                       ("return", "send it back, with --reason (退回)"),
                       ("resolve", "report it dealt with (办结)")):
        update = actions.add_parser(name, help=text)
        update.add_argument("department", metavar="DEPT")
        update.add_argument("order_id", metavar="ID")
        update.add_argument("--by", default=os.environ.get("USER", "department"))
        update.add_argument("--reason", default="", help="required for return")
        update.add_argument("--timeout", type=float, default=10.0, metavar="S",
                            help="wait this long for the hotline's answer")
        _common(update)
        update.set_defaults(func=_update, status={"accept": "accepted", "return": "returned",
                                                  "resolve": "resolved"}[name])


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="DIR", help="configuration directory")
    parser.add_argument("--password-file", type=Path, metavar="FILE",
                        help=f"the department's password (default ${PASSWORD_ENV}, else "
                             "<secrets dir>/departments/DEPT.password)")


def _setup(args: argparse.Namespace) -> tuple[EngineConfig, Topics, str]:
    from ivr.mqtt.broker import department_password, secrets_dir
    from ivr.mqtt.exceptions import MqttSetupError
    from ivr.mqtt.topics import Topics

    config = load_config(args.config)
    rules = config.rules.mqtt
    if args.department not in rules.departments:
        raise CliError(f"unknown department {args.department!r}; configured: "
                       f"{', '.join(sorted(rules.departments)) or 'none'}")
    if args.password_file is not None:
        password = args.password_file.read_text(encoding="utf-8").strip()
    elif os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV]
    else:
        try:
            password = department_password(secrets_dir(rules), args.department)
        except MqttSetupError as exc:
            raise CliError(str(exc)) from None
    return config, Topics(rules.topic_prefix, config.region), password


def _out(args: argparse.Namespace, obj: dict[str, Any], text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False) if args.json else text, flush=True)


def _listen(args: argparse.Namespace) -> int:
    from ivr.mqtt.client import run_client

    config, topics, password = _setup(args)
    return run_client(_listen_async(args, config, topics, password))


async def _listen_async(args: argparse.Namespace, config: EngineConfig, topics: Topics,
                        password: str) -> int:
    from ivr.mqtt.client import client_for, messages_until

    seen: set[str] = set()
    if args.state is not None and args.state.exists():
        seen = set(args.state.read_text(encoding="utf-8").split())
    rules = config.rules.mqtt
    new = 0
    client = client_for(rules, args.department, password, identifier=f"dept-{args.department}",
                        clean_session=False)
    async with client:
        await client.subscribe(topics.workorders(args.department), qos=1)
        _out(args, {"type": "listening", "department": args.department},
             f"listening for {args.department} work orders on {topics.workorders(args.department)}")
        async for message in messages_until(client, args.timeout):
            parsed = topics.parse_workorder(str(message.topic))
            if parsed is None:
                continue
            _dept, order_id, kind = parsed
            body = json.loads(bytes(message.payload))
            if kind == "reply":
                _out(args, {"type": "reply", **body},
                     f"reply {order_id}: {'ok' if body.get('ok') else 'REFUSED'} {body.get('reason')}")
                continue
            if order_id not in seen:
                seen.add(order_id)
                new += 1
                if args.state is not None:
                    with args.state.open("a", encoding="utf-8") as handle:
                        handle.write(order_id + "\n")
                _out(args, {"type": "workorder", **body}, _line(body))
            if not args.no_ack:  # a repeat is acknowledged again (the first ack may be lost)
                await _ack(client, topics, args.department, order_id, args.by)
            if args.count is not None and new >= args.count:
                break
    return 0


async def _ack(client: aiomqtt.Client, topics: Topics, department: str, order_id: str,
               by: str) -> None:
    payload = json.dumps({"id": order_id, "by": by}, ensure_ascii=False)
    await client.publish(topics.ack(department), payload, qos=1)


def _line(body: dict[str, Any]) -> str:
    return (f"{body.get('id')}  call={body.get('call_id')}  target={body.get('target')}  "
            f"reason={body.get('reason')}  line={body.get('line') or '-'}  "
            f"caller={body.get('caller_masked') or '-'}  attempt={body.get('attempt')}\n"
            f"    {body.get('summary') or ''}")


def _update(args: argparse.Namespace) -> int:
    if args.status == "returned" and not args.reason:
        raise CliError("return needs --reason", status=2)
    from ivr.mqtt.client import run_client

    config, topics, password = _setup(args)
    reply = run_client(_update_async(args, config, topics, password))
    if reply is None:
        raise CliError(f"no answer from the hotline within {args.timeout:g} s (is the controller "
                       "running? is the id right?)")
    if not reply.get("ok"):
        raise CliError(f"refused: {reply.get('reason')}")
    print(f"{args.order_id}: {reply.get('status')}", file=sys.stdout)
    return 0


async def _update_async(args: argparse.Namespace, config: EngineConfig, topics: Topics,
                        password: str) -> dict[str, Any] | None:
    from ivr.mqtt.client import client_for, messages_until

    async with client_for(config.rules.mqtt, args.department, password) as client:
        await client.subscribe(topics.reply(args.department, args.order_id), qos=1)
        payload = {"id": args.order_id, "status": args.status, "by": args.by,
                   "reason": args.reason}
        await client.publish(topics.department_status(args.department),
                             json.dumps(payload, ensure_ascii=False), qos=1)
        async for message in messages_until(client, args.timeout):
            body: dict[str, Any] = json.loads(bytes(message.payload))
            if body.get("in_reply_to") == "status":
                return body
    return None
