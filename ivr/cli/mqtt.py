"""``hotline mqtt users|render|broker``: department credentials and the local broker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.core.cli import CliError, load_config

if TYPE_CHECKING:
    from ivr.config.engine import EngineConfig


def add_mqtt(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline mqtt …``."""
    parser = sub.add_parser("mqtt", help="MQTT credentials and the local broker (docs/events.md)")
    actions = parser.add_subparsers(dest="mqtt_command", required=True)

    users = actions.add_parser("users", help="create missing department credentials (0600, "
                               "in the secrets directory); list where each one is")
    users.add_argument("--rotate", nargs="*", default=[], metavar="DEPT",
                       help="replace these departments' passwords")
    _common(users)
    users.set_defaults(func=_users)

    render = actions.add_parser("render", help="write mosquitto.conf, the ACL and the password "
                                "file from routing_rules.yaml")
    render.add_argument("--port", type=int, help="listen here instead of mqtt.port")
    _common(render)
    render.set_defaults(func=_render)

    broker = actions.add_parser("broker", help="the local mosquitto (make run)")
    broker.add_argument("action", choices=("up", "down", "status"))
    broker.add_argument("--port", type=int, help="listen here instead of mqtt.port")
    _common(broker)
    broker.set_defaults(func=_broker)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="DIR", help="configuration directory")
    parser.add_argument("--secrets-dir", type=Path, metavar="DIR",
                        help="default $HOTLINE_MQTT_SECRETS_DIR, mqtt.secrets_dir, "
                             "$HOTLINE_RUN_DIR/mqtt")


def _where(args: argparse.Namespace) -> tuple[EngineConfig, Path]:
    from ivr.mqtt.broker import secrets_dir

    config = load_config(args.config)
    rules = config.rules.mqtt
    directory: Path = args.secrets_dir or secrets_dir(rules)
    return config, directory


def _users(args: argparse.Namespace) -> int:
    from ivr.mqtt.broker import department_password_file, ensure_users, hotline_password

    config, directory = _where(args)
    rules = config.rules.mqtt
    unknown = sorted(set(args.rotate) - set(rules.departments))
    if unknown:
        raise CliError(f"unknown department(s): {', '.join(unknown)}; configured: "
                       f"{', '.join(sorted(rules.departments))}")
    created = ensure_users(rules, directory, frozenset(args.rotate))
    hotline_password(directory)
    print(f"{rules.username:<20} (the controller) {directory / 'hotline.password'}")
    for dept, new in created.items():
        state = "created" if new else "kept"
        print(f"{dept:<20} {state:<8} {department_password_file(directory, dept)}")
    print("re-render the broker's password file: hotline mqtt render (or tools/broker restart)")
    return 0


def _render(args: argparse.Namespace) -> int:
    from ivr.mqtt.broker import render
    from ivr.mqtt.exceptions import MqttSetupError

    config, directory = _where(args)
    try:
        rendered = render(config.rules.mqtt, config.region, directory, args.port)
    except MqttSetupError as exc:
        raise CliError(str(exc)) from None
    print(rendered.conf)
    return 0


def _broker(args: argparse.Namespace) -> int:
    from ivr.mqtt.broker import broker_pid, render, start_broker, stop_broker
    from ivr.mqtt.exceptions import MqttSetupError

    config, directory = _where(args)
    rules = config.rules.mqtt
    port = args.port or rules.port
    if args.action == "status":
        pid = broker_pid(directory)
        print(f"mosquitto pid {pid} ({directory / 'mosquitto.conf'})" if pid
              else f"no broker running from {directory}")
        return 0 if pid else 1
    if args.action == "down":
        print("stopped" if stop_broker(directory) else f"no broker running from {directory}")
        return 0
    if broker_pid(directory) is not None:
        print(f"mosquitto already running (pid {broker_pid(directory)}); "
              f"{rules.host}:{port}, config {directory / 'mosquitto.conf'}")
        return 0
    try:
        rendered = render(rules, config.region, directory, port)
        pid = start_broker(rendered.conf, rules.host, port)
    except MqttSetupError as exc:
        raise CliError(str(exc)) from None
    print(f"mosquitto pid {pid} on {rules.host}:{port}; credentials in {directory} "
          "(departments/<id>.password)")
    return 0
