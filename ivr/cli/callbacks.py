"""``hotline callbacks [--all] [--json]`` / ``hotline callbacks cancel ID``: callbacks of missed
and abandoned callers (numbers masked)."""

from __future__ import annotations

import argparse
import json

from ivr.controller.settings import default_run_dir
from ivr.core.cli import CliError


def add_callbacks(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hotline callbacks``."""
    parser = sub.add_parser(
        "callbacks", help="callbacks of missed and abandoned callers (masked)",
        description="Callers the engine calls back: open entries (pending, dialling) by "
                    "default, with why each one waits; --all for every entry, newest first.")
    parser.add_argument("--all", action="store_true", help="every entry, closed ones too")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=_list)
    verbs = parser.add_subparsers(dest="verb")
    cancel = verbs.add_parser("cancel", help="cancel a pending callback")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--json", action="store_true")
    cancel.set_defaults(func=_cancel)


def _line(row: dict[str, object]) -> str:
    outcome = f" last={row['last_outcome']}" if row.get("last_outcome") else ""
    agent = f" agent={row['agent']}" if row.get("agent") else ""
    held = f"  ({row['held']})" if row.get("held") and row["state"] == "pending" else ""
    return (f"{row['id']:>5} {row['requested_at']} {row['caller']} skill={row['skill']} "
            f"{row['reason']} {row['state']} attempts={row['attempts']}{outcome}{agent} "
            f"call={row['call_id']}{held}")


def _list(args: argparse.Namespace) -> int:
    from ivr.callbacks.store import CallbackStore

    store = CallbackStore(default_run_dir() / "callbacks.db")
    try:
        rows = [e.to_json() for e in store.listing(everything=args.all)]
    finally:
        store.close()
    for row in rows:
        print(json.dumps(row, ensure_ascii=False) if args.json else _line(row))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    """Through the controller when it runs (its event stream says so), else in the store."""
    from ivr.control.client import ControlUnavailable, call

    run_dir = default_run_dir()
    try:
        response = call(run_dir / "control.sock", "callbacks.cancel", id=args.id, by="cli")
    except ControlUnavailable:
        response = _cancel_in_store(args.id)
    if not response.get("ok"):
        raise CliError(str(response.get("error")))
    row = response["result"]
    print(json.dumps(row, ensure_ascii=False) if args.json else _line(row))
    return 0


def _cancel_in_store(entry_id: int) -> dict[str, object]:
    from ivr.callbacks.model import CallbackError, CallbackState
    from ivr.callbacks.store import CallbackStore
    from ivr.clock import SystemClock

    store = CallbackStore(default_run_dir() / "callbacks.db")
    try:
        entry = store.close_entry(entry_id, CallbackState.CANCELLED, SystemClock().now())
    except CallbackError as exc:
        return {"ok": False, "error": str(exc)}
    finally:
        store.close()
    return {"ok": True, "result": entry.to_json()}
