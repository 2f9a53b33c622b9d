"""Subcommands of ``hotline``: run, route, check, config, calls.

Imports of the engine (pydantic models, the controller, the speech stack) happen inside the
handlers: ``hotline route`` and ``hotline calls`` must answer at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.config.locate import EXAMPLE_NOTICE, ConfigLocation, locate_config_dir
from ivr.core.cli import CliError, load_config

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from ivr.config.engine import EngineConfig
    from ivr.config.errors import ConfigProblem


def default_run_dir() -> Path:
    """``$HOTLINE_RUN_DIR``, else ``$XDG_RUNTIME_DIR/hotline12345`` or ``/run/hotline12345``
    (imported late: the settings pull in asyncio)."""
    from ivr.controller.settings import default_run_dir as run_dir

    return run_dir()


def default_config_dir() -> Path:
    """The configuration directory the lookup finds (see :mod:`ivr.config.locate`)."""
    return locate_config_dir().directory


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="directory with merger_catalogue.yaml, routing_rules.yaml and agents.yaml "
                             "(default: $HOTLINE_CONFIG_DIR, else . when it has routing_rules.yaml, "
                             "else /etc/hotline12345 when it exists, else the example shipped "
                             "with the package)")


def _locate(args: argparse.Namespace) -> ConfigLocation:
    location = locate_config_dir(args.config)
    if location.is_example:
        print(f"note: {EXAMPLE_NOTICE}", file=sys.stderr)
    return location


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return value


def add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline run``."""
    parser = sub.add_parser("run", help="run the controller (FastAGI + AMI)")
    _config_arg(parser)
    parser.add_argument("--recordings", type=Path, default=None)
    parser.add_argument("--agi-host", default="127.0.0.1")
    parser.add_argument("--agi-port", type=int, default=4573)
    parser.add_argument("--agi-allow", default=None, metavar="ADDR[,NET…]",
                        help="FastAGI peers served, addresses or networks (default "
                             "$HOTLINE_AGI_ALLOW, else 127.0.0.1,::1); anyone else is refused "
                             "and that call takes the fallback")
    parser.add_argument("--ami-from-sandbox", action="store_true",
                        default=None,
                        help="take what HOTLINE_AMI_* leave unset from the sandbox's state file "
                             "(development; also HOTLINE_AMI_FROM_SANDBOX=1)")
    parser.add_argument("--at", type=_when, default=None,
                        help="start the clock at this time (tests, demos); naive = Asia/Shanghai")
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import os
    import signal

    from ivr.agi.server import AllowList
    from ivr.controller.service import Controller
    from ivr.controller.settings import ControllerSettings, ami_settings_from_env
    from ivr.core.environ import AGI_ALLOW_ENV
    from ivr.core.rundir import RunDir, RunDirError

    # every file the controller creates (records, databases, snapshots, the control
    # socket) is the hotline user's alone, from the moment it exists
    os.umask(0o077)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        allow = AllowList.parse(args.agi_allow or os.environ.get(AGI_ALLOW_ENV)
                                or "127.0.0.1,::1")
    except ValueError as exc:
        raise CliError(f"--agi-allow: {exc}", status=2) from None
    location = _locate(args)
    config_dir = location.directory
    recordings_dir = args.recordings or config_dir / "recordings"
    _warn_recordings(recordings_dir)
    run_dir = default_run_dir()
    try:
        RunDir(run_dir).ensure()  # refused before anything is read from it or written to it
        ami = ami_settings_from_env(run_dir, from_sandbox=args.ami_from_sandbox)
    except RunDirError as exc:
        raise CliError(str(exc)) from None
    settings = ControllerSettings(
        config_dir=config_dir,
        recordings_dir=recordings_dir,
        run_dir=run_dir, agi_host=args.agi_host, agi_port=args.agi_port, agi_allow=allow,
        ami=ami, start_at=args.at,
    )
    controller = Controller(settings)
    # SIGTERM (systemd, kill) stops the controller the way Ctrl-C does: tasks are cancelled
    # and their cleanup runs, exit status 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(controller.run())
    except KeyboardInterrupt:
        pass
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop (libuv: fewer system calls and less Python per call, measured in
    bench/load.py) unless ``HOTLINE_EVENT_LOOP=asyncio`` asks for the standard one."""
    import os

    if os.environ.get("HOTLINE_EVENT_LOOP", "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _warn_recordings(recordings_dir: Path) -> None:
    """Prompts are optional for routing: say so when there is no audio, then carry on."""
    has_audio = any(any((recordings_dir / kind).glob("**/*.wav")) for kind in ("custom", "generated"))
    if not has_audio:
        print(f"warning: no prompt recordings under {recordings_dir} (custom/ or generated/): "
              "calls are routed without their prompts; pass --recordings DIR or run "
              "tools/make_prompts", file=sys.stderr)


def add_route(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline route``."""
    parser = sub.add_parser("route", help="show the routing decision for a number (dry run)")
    parser.add_argument("number")
    _config_arg(parser)
    parser.add_argument("--region", default=None)
    parser.add_argument("--at", type=_when, default=None,
                        help="ISO 8601 time (default now); naive = Asia/Shanghai")
    parser.add_argument("--caller", default=None)
    parser.add_argument("--utterance", default=None)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=_route)


def _route(args: argparse.Namespace) -> int:
    from datetime import UTC

    from ivr.routing.decision import CallFacts, decide

    config = load_config(args.config, cached=True)
    if args.region and args.region not in config.catalogue.regions:
        raise CliError(f"unknown region {args.region!r}; known: "
                       f"{', '.join(sorted(config.catalogue.regions))}", status=2)
    heard = None
    if args.utterance is not None:
        from ivr.speech.classify import classify
        from ivr.speech.nb import load_ngram_model

        if config.rules.classification is None:
            raise CliError("routing_rules.yaml has no 'classification' section")
        heard = classify(args.utterance, config.rules.classification, load_ngram_model())
    facts = CallFacts(number=args.number, at=args.at or datetime.now(UTC), caller=args.caller,
                      region=args.region, utterance=args.utterance, classification=heard)
    decision = decide(facts, config)
    data = decision.to_json()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    line = data["line"]
    target = data["target"]
    print(f"{data['number']} in {data['region']} on {data['local_date']}: "
          f"{line['name']} ({line['mode']}, {data['phase']})")
    print(f"  prompts: {' -> '.join(data['prompts']) or '(none)'}")
    print("  target:  " + " ".join(f"{k}={v}" for k, v in target.items()))
    if data["tags"]:
        print(f"  tags:    {', '.join(data['tags'])}")
    if data["classification"]:
        heard = data["classification"]
        print(f"  heard:   domain={heard['domain']} type={heard['request_type']} "
              f"urgency={heard['urgency']} confidence={heard['confidence']}")
    return 0


def add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline check``."""
    parser = sub.add_parser("check", help="validate the YAML configuration")
    _config_arg(parser)
    parser.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from ivr.config.engine import load_engine_config  # never the cache: check always validates
    from ivr.config.errors import ConfigError

    location = locate_config_dir(args.config)
    directory = location.directory
    problems: list[ConfigProblem] = []
    try:
        config = load_engine_config(directory)
    except ConfigError as exc:
        problems.extend(exc.problems)
        config = None
    problems.extend(_check_prompts(directory))
    if problems:
        for problem in problems:
            print(problem)
        return 1
    assert config is not None
    counts = ", ".join(f"{key} {len(region.lines)}+{len(region.patterns)}p"
                       for key, region in config.catalogue.regions.items())
    print(f"ok: {directory} (region {config.region}; lines per region: {counts})")
    if location.is_example:
        print(EXAMPLE_NOTICE)
    from ivr.cli.catalogue import check_notes  # dates the plan does not state (issue 17)

    for note in check_notes(config):
        print(note)
    print(_listening_status(config, Path(directory)))
    return 0


def add_config(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline config init DIR`` / ``hotline config where``."""
    parser = sub.add_parser("config", help="copy the example configuration, show which is used")
    actions = parser.add_subparsers(dest="action", required=True)
    init = actions.add_parser("init", help="copy the example configuration shipped with the "
                                           "package into DIR (e.g. /etc/hotline12345)")
    init.add_argument("directory", type=Path)
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(func=_config_init)
    where = actions.add_parser("where", help="the configuration directory the lookup picks")
    _config_arg(where)
    where.set_defaults(func=_config_where)


def _config_init(args: argparse.Namespace) -> int:
    from ivr.config.locate import ConfigInitError, init_config

    try:
        written = init_config(args.directory, force=args.force)
    except (ConfigInitError, OSError) as exc:
        print(f"hotline config init: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(f"edit them, then: hotline check --config {args.directory}", file=sys.stderr)
    return 0


def _config_where(args: argparse.Namespace) -> int:
    location = locate_config_dir(args.config)
    print(f"{location.directory} ({location.source.value})")
    return 0


def _listening_status(config: EngineConfig, directory: Path) -> str:
    """One line on live pre-classification: on, off, or the model it cannot find."""
    listening = config.rules.listening
    if not listening.enabled:
        return "listening: off (listening.enabled is false): calls route on the dialled number"
    from ivr.speech.asr import check_model_dir

    path = listening.resolved_model_path(directory)
    problems = check_model_dir(path)
    if problems:
        return (f"warning: listening: speech model at {path} unusable ({'; '.join(problems)}): "
                "calls will route without pre-classification; tools/fetch_vosk_model installs it")
    lines = ", ".join(line.value for line in listening.lines)
    return (f"listening: on for {lines}; model {path}, {listening.grammar.value} decoding, "
            f"AudioSocket {listening.audiosocket.host}:{listening.audiosocket.port}, "
            f"budget {listening.budget_ms} ms")


def _check_prompts(directory: Path) -> list[ConfigProblem]:
    from ivr.config.errors import ConfigError

    path = directory / "recordings" / "prompts.yaml"
    if not path.exists():
        return []
    try:
        from ivr.prompts.schema import load_prompts
    except ImportError:
        return []
    try:
        load_prompts(path)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def add_callbacks(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline callbacks`` (ivr/cli/callbacks.py)."""
    from ivr.cli.callbacks import add_callbacks as add

    add(sub)
