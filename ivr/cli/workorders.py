"""``hotline workorder list|show``: the cases handed to departments after a failed transfer."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ivr.controller.settings import default_run_dir
from ivr.workorders import SqliteWorkOrderStore, WorkOrder, WorkOrderStatus, WorkOrderStoreError
from ivr.workorders.model import LOCAL_TZ
from ivr.workorders.store import DEFAULT_LIMIT, Delivery

DB_NAME = "workorders.db"
UNACKED = "unacknowledged"
_HEADERS = ("ID", "CREATED (Asia/Shanghai)", "STATUS", "TARGET", "REASON", "LINE", "SKILL",
            "CALLER", "CALL ID", "DELIVERY")


def add_workorder(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hotline workorder list|show``."""
    parser = sub.add_parser("workorder", help="work orders filed after a failed transfer")
    actions = parser.add_subparsers(dest="workorder_command", required=True)

    listing = actions.add_parser("list", help="work orders, newest first")
    listing.add_argument("--status", choices=[*(str(s) for s in WorkOrderStatus), UNACKED],
                         help=f"{UNACKED}: open or sent, not yet acknowledged by the department")
    listing.add_argument("--call", metavar="CALL_ID", help="only this call's orders")
    listing.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N")
    listing.add_argument("--json", action="store_true", help="a JSON array")
    _db_arg(listing)
    listing.set_defaults(func=_list)

    show = actions.add_parser("show", help="one work order, every field and its history")
    show.add_argument("order_id", metavar="ID")
    show.add_argument("--json", action="store_true")
    _db_arg(show)
    show.set_defaults(func=_show)


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help=f"the database (default $HOTLINE_RUN_DIR/{DB_NAME})")


def _db_path(args: argparse.Namespace) -> Path:
    path: Path | None = args.db
    return path if path is not None else default_run_dir() / DB_NAME


def _open(path: Path) -> SqliteWorkOrderStore | None:
    try:
        return SqliteWorkOrderStore(path)
    except (WorkOrderStoreError, sqlite3.Error) as exc:
        print(f"cannot open {path}: {exc}", file=sys.stderr)
        return None


def _list(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if not path.exists():
        if args.json:
            print("[]")
        print(f"no work orders yet ({path})", file=sys.stderr if args.json else sys.stdout)
        return 0
    store = _open(path)
    if store is None:
        return 1
    try:
        if args.status == UNACKED:
            orders = [o for o in store.unacknowledged(limit=None)
                      if args.call is None or o.call_id == args.call][:max(args.limit, 0)]
        else:
            status = None if args.status is None else WorkOrderStatus(args.status)
            orders = store.list(status=status, call_id=args.call, limit=args.limit)
        deliveries = {o.id: store.delivery(o.id) for o in orders}
    finally:
        store.close()
    if args.json:
        print(json.dumps([_with_delivery(o, deliveries[o.id]) for o in orders],
                         ensure_ascii=False, indent=2))
    elif orders:
        print(_table(orders, deliveries))
    else:
        print(f"no matching work orders ({path})")
    return 0


def _show(args: argparse.Namespace) -> int:
    path = _db_path(args)
    order: WorkOrder | None = None
    delivery: Delivery | None = None
    if path.exists():
        store = _open(path)
        if store is None:
            return 1
        try:
            order = store.get(args.order_id)
            delivery = store.delivery(args.order_id)
        finally:
            store.close()
    if order is None:
        print(f"no work order {args.order_id} ({path})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_with_delivery(order, delivery), ensure_ascii=False, indent=2))
    else:
        print(_details(order, delivery))
    return 0


def _local(order: WorkOrder) -> str:
    return order.created_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _with_delivery(order: WorkOrder, delivery: Delivery | None) -> dict[str, Any]:
    body = order.to_json()
    body["delivery"] = None if delivery is None else delivery.to_json()
    return body


def _delivered(delivery: Delivery | None) -> str:
    if delivery is None:
        return "-"
    text = f"{delivery.department} x{delivery.attempts}"
    if delivery.acked_by:
        text += f" ack:{delivery.acked_by}"
    if delivery.escalated_at is not None:
        text += " ESCALATED"
    return text


def _table(orders: list[WorkOrder], deliveries: dict[str, Delivery | None]) -> str:
    rows = [_HEADERS] + [
        (o.id, _local(o), str(o.status), o.target, o.reason, o.line or "-", o.skill or "-",
         o.caller_masked or "-", o.call_id, _delivered(deliveries.get(o.id))) for o in orders]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def _details(order: WorkOrder, delivery: Delivery | None = None) -> str:
    fields = [
        ("id", order.id), ("status", str(order.status)),
        ("created", f"{_local(order)} Asia/Shanghai ({order.created_at.isoformat()})"),
        ("call id", order.call_id), ("target", f"{order.target} ({order.target_kind})"),
        ("department", order.department), ("line", order.line), ("skill", order.skill),
        ("caller", order.caller_masked), ("reason", order.reason), ("agent", order.agent),
        ("summary", order.summary), ("delivery", _delivered(delivery)),
    ]
    lines = [f"{name + ':':<12}{'-' if value is None else value}" for name, value in fields]
    classification = ("-" if order.classification is None
                      else json.dumps(order.classification, ensure_ascii=False, indent=2))
    lines.append(f"classification: {classification}")
    lines.append("transcript:")
    lines.extend(f"  {text}" for text in (order.transcript or "-").splitlines() or ["-"])
    lines.append("history:")
    lines.extend(f"  {e.at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M:%S}  {e.status:<12}  {e.note}".rstrip()
                 for e in order.history)
    return "\n".join(lines)
