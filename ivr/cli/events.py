"""``hotline events``: tail a region's call events (and agent states, queue stats) over MQTT."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.core.cli import CliError, load_config


def add_events(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline events``."""
    parser = sub.add_parser("events", help="tail the call events of a region over MQTT")
    parser.add_argument("--region", help="default: the deployment's region")
    parser.add_argument("--call", metavar="CALL_ID", help="only this call")
    parser.add_argument("--all", action="store_true",
                        help="agent states, queue stats and the node status too")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N messages")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line ({topic, payload})")
    parser.add_argument("--config", metavar="DIR", help="configuration directory")
    parser.add_argument("--password-file", type=Path, metavar="FILE",
                        help="default $HOTLINE_MQTT_PASSWORD, else <secrets dir>/hotline.password")
    parser.set_defaults(func=_events)


def _events(args: argparse.Namespace) -> int:
    from ivr.mqtt.broker import hotline_password, secrets_dir
    from ivr.mqtt.exceptions import MqttSetupError
    from ivr.mqtt.topics import Topics

    config = load_config(args.config)
    rules = config.rules.mqtt
    if args.password_file is not None:
        password = args.password_file.read_text(encoding="utf-8").strip()
    else:
        try:
            password = hotline_password(secrets_dir(rules), create=False)
        except MqttSetupError as exc:
            raise CliError(str(exc)) from None
    topics = Topics(rules.topic_prefix, args.region or config.region)
    wanted = f"{topics.root}/#" if args.all else (
        topics.call(args.call, "+") if args.call else topics.calls)
    from ivr.mqtt.client import run_client

    run_client(_tail(args, rules, password, wanted))
    return 0


async def _tail(args: argparse.Namespace, rules: Any, password: str, wanted: str) -> None:
    from ivr.mqtt.client import client_for, messages_until

    seen = 0
    async with client_for(rules, rules.username, password) as client:
        await client.subscribe(wanted, qos=1)
        async for message in messages_until(client, args.timeout):
            try:
                payload = json.loads(bytes(message.payload))
            except ValueError:
                continue
            seen += 1
            if args.json:
                print(json.dumps({"topic": str(message.topic), "payload": payload},
                                 ensure_ascii=False), flush=True)
            else:
                print(_line(str(message.topic), payload), flush=True)
            if args.count is not None and seen >= args.count:
                break


def _line(topic: str, p: dict[str, Any]) -> str:
    try:
        at = datetime.fromisoformat(p["at"]).astimezone().strftime("%H:%M:%S.%f")[:-3]
    except (KeyError, ValueError):
        at = "-"
    if "event" in p:
        return (f"{at} {p.get('call_id')} {p.get('event'):<16} line={p.get('line') or '-'} "
                f"mode={p.get('mode') or '-'} phase={p.get('phase') or '-'} "
                f"skill={p.get('skill') or '-'} caller={p.get('caller') or '-'} "
                f"outcome={p.get('outcome') or '-'}")
    return f"{at} {topic} {json.dumps(p, ensure_ascii=False)}"
