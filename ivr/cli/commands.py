"""Subcommands of ``hotline``: run, route, check, calls."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

from ivr.config.engine import EngineConfig, load_engine_config
from ivr.config.errors import ConfigError, ConfigProblem
from ivr.controller.settings import ControllerSettings, ami_settings_from_env, default_run_dir
from ivr.routing.decision import CallFacts, decide


def default_config_dir() -> Path:
    """``$HOTLINE_CONFIG_DIR`` or the current directory."""
    return Path(os.environ.get("HOTLINE_CONFIG_DIR", "."))


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="directory with merger_catalogue.yaml and routing_rules.yaml "
                             "(default: $HOTLINE_CONFIG_DIR or .)")


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
    parser.add_argument("--at", type=_when, default=None,
                        help="start the clock at this time (tests, demos); naive = Asia/Shanghai")
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ivr.controller.service import Controller

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config_dir = args.config or default_config_dir()
    run_dir = default_run_dir()
    settings = ControllerSettings(
        config_dir=config_dir,
        recordings_dir=args.recordings or config_dir / "recordings",
        run_dir=run_dir, agi_host=args.agi_host, agi_port=args.agi_port,
        ami=ami_settings_from_env(run_dir), start_at=args.at,
    )
    try:
        controller = Controller(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        asyncio.run(controller.run())
    except KeyboardInterrupt:
        pass
    return 0


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

    try:
        config = load_engine_config(args.config or default_config_dir())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.region and args.region not in config.catalogue.regions:
        print(f"unknown region {args.region!r}; known: "
              f"{', '.join(sorted(config.catalogue.regions))}", file=sys.stderr)
        return 2
    heard = None
    if args.utterance is not None:
        from ivr.speech.classify import classify
        from ivr.speech.nb import load_ngram_model

        if config.rules.classification is None:
            print("routing_rules.yaml has no 'classification' section", file=sys.stderr)
            return 1
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
    directory = args.config or default_config_dir()
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
    print(_listening_status(config, Path(directory)))
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


def add_calls(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline calls``."""
    parser = sub.add_parser("calls", help="list recorded calls (masked)")
    parser.add_argument("call_id", nargs="?")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--last", type=int, default=20)
    parser.set_defaults(func=_calls)


def add_callbacks(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline callbacks``."""
    parser = sub.add_parser("callbacks", help="callers promised a call back (masked)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=_callbacks)


def _callbacks(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ivr.calls.callbacks import CallbackStore

    store = CallbackStore(default_run_dir() / "callbacks.db")
    for request in store.pending():
        if args.json:
            print(json.dumps(asdict(request), ensure_ascii=False))
        else:
            print(f"{request.requested_at} {request.caller_masked} skill={request.skill} "
                  f"call={request.call_id}")
    store.close()
    return 0


def _calls(args: argparse.Namespace) -> int:
    from ivr.calls.records import CallJournal

    journal = CallJournal(default_run_dir() / "calls.jsonl")
    if args.call_id:
        record = journal.get(args.call_id)
        if record is None:
            print(f"no call {args.call_id}", file=sys.stderr)
            return 1
        print(json.dumps(record.steps, ensure_ascii=False, indent=2))
        return 0
    records = list(journal.records())[-args.last:]
    for record in records:
        summary = record.summary
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
        else:
            print(f"{summary['at']} {summary['call_id']} {summary['number']} "
                  f"{summary['caller']} {summary['mode']}/{summary['phase']} "
                  f"-> {summary['target']} {summary['dial_status'] or ''}"
                  f"{' FALLBACK' if summary['fallback'] else ''}")
    return 0
