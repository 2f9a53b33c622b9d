"""Where work orders live: a durable SQLite file, or memory for unit tests of other code.

The SQLite store runs in WAL mode with ``synchronous=FULL``: a create or a status change
has reached the disk when the call returns, so it survives a crash of the controller or
of the machine. Each write is one ``BEGIN IMMEDIATE`` transaction, the day's order number
included, so two writers never hand out the same id.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ivr.core.sqlitedb import SchemaTooNew, open_private_db, write_transaction
from ivr.workorders.model import (
    LOCAL_TZ,
    UNACKNOWLEDGED,
    HistoryEntry,
    WorkOrder,
    WorkOrderNotFound,
    WorkOrderStatus,
    check_masked,
    check_transition,
    copy_classification,
    format_order_id,
    local_day,
    require_aware,
)

DEFAULT_LIMIT = 100

# MIGRATIONS[n] takes a database from ``user_version`` n to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE work_orders (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            call_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL,
            target TEXT NOT NULL,
            target_kind TEXT NOT NULL,
            department TEXT,
            line TEXT,
            skill TEXT,
            caller_masked TEXT,
            reason TEXT NOT NULL,
            summary TEXT NOT NULL,
            classification TEXT,
            transcript TEXT,
            agent TEXT
        )""",
        "CREATE INDEX work_orders_status ON work_orders (status, seq)",
        "CREATE INDEX work_orders_call ON work_orders (call_id, seq)",
        """CREATE TABLE work_order_history (
            order_id TEXT NOT NULL REFERENCES work_orders (id),
            n INTEGER NOT NULL,
            at TEXT NOT NULL,
            status TEXT NOT NULL,
            note TEXT NOT NULL,
            PRIMARY KEY (order_id, n)
        )""",
        "CREATE TABLE work_order_days (day TEXT PRIMARY KEY, last INTEGER NOT NULL)",
    ),
    (  # 2: delivery to departments over MQTT (ivr/mqtt), resent until acknowledged
        """CREATE TABLE work_order_delivery (
            order_id TEXT PRIMARY KEY REFERENCES work_orders (id),
            department TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            first_sent_at TEXT,
            last_sent_at TEXT,
            next_attempt_at TEXT,
            acked_at TEXT,
            acked_by TEXT,
            escalated_at TEXT
        )""",
        "CREATE INDEX work_order_delivery_due ON work_order_delivery (acked_at, next_attempt_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = ("id, call_id, created_at, status, target, target_kind, department, line, skill, "
            "caller_masked, reason, summary, classification, transcript, agent")


class WorkOrderStoreError(RuntimeError):
    """The database cannot be used (e.g. written by a newer version)."""


class WrongDepartment(PermissionError):
    """A department spoke about an order addressed to another one."""

    def __init__(self, order_id: str, department: str, addressed: str | None) -> None:
        super().__init__(f"work order {order_id} is addressed to {addressed or 'no department'}, "
                         f"not {department}")
        self.order_id = order_id
        self.department = department
        self.addressed = addressed


@dataclass(frozen=True)
class Delivery:
    """How far an order's delivery to its department has come."""

    order_id: str
    department: str
    attempts: int = 0
    first_sent_at: datetime | None = None
    last_sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    escalated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self.__dict__.items()}


_DELIVERY_COLUMNS = ("order_id, department, attempts, first_sent_at, last_sent_at, next_attempt_at, "
                     "acked_at, acked_by, escalated_at")


def _delivery(row: tuple[Any, ...]) -> Delivery:
    def when(raw: str | None) -> datetime | None:
        return None if raw is None else datetime.fromisoformat(raw)

    return Delivery(order_id=row[0], department=row[1], attempts=row[2],
                    first_sent_at=when(row[3]), last_sent_at=when(row[4]),
                    next_attempt_at=when(row[5]), acked_at=when(row[6]), acked_by=row[7],
                    escalated_at=when(row[8]))


class WorkOrderStore(Protocol):
    """What the rest of the engine needs from a work-order store."""

    def create(self, *, call_id: str, created_at: datetime, target: str, target_kind: str,
               reason: str, summary: str, department: str | None = None, line: str | None = None,
               skill: str | None = None, caller_masked: str | None = None,
               classification: dict[str, Any] | None = None, transcript: str | None = None,
               agent: str | None = None) -> WorkOrder:
        """A new open order with the next id of ``created_at``'s local day."""
        ...

    def get(self, order_id: str) -> WorkOrder | None:
        """The order, or None."""
        ...

    def list(self, status: WorkOrderStatus | None = None, call_id: str | None = None,
             limit: int | None = DEFAULT_LIMIT) -> builtins.list[WorkOrder]:
        """Orders, newest first, optionally filtered; ``limit=None`` for all."""
        ...

    def set_status(self, order_id: str, status: WorkOrderStatus, at: datetime,
                   note: str = "") -> WorkOrder:
        """Move an order on; raises WorkOrderNotFound or IllegalWorkOrderTransition."""
        ...

    def pending_delivery(self) -> builtins.list[WorkOrder]:
        """Open orders, oldest first: what the publisher still has to deliver."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


def _new_order(order_id: str, *, call_id: str, created_at: datetime, target: str, target_kind: str,
               reason: str, summary: str, department: str | None, line: str | None,
               skill: str | None, caller_masked: str | None,
               classification: dict[str, Any] | None, transcript: str | None,
               agent: str | None) -> WorkOrder:
    return WorkOrder(
        id=order_id, call_id=call_id, created_at=created_at, status=WorkOrderStatus.OPEN,
        target=target, target_kind=target_kind, reason=reason, summary=summary,
        department=department, line=line, skill=skill, caller_masked=caller_masked,
        classification=copy_classification(classification), transcript=transcript, agent=agent,
        history=(HistoryEntry(created_at, WorkOrderStatus.OPEN, f"created: {reason}"),))


class SqliteWorkOrderStore:
    """Work orders in one SQLite file (WAL, synchronous=FULL, owner-only permissions)."""

    def __init__(self, path: Path, *, tz: ZoneInfo = LOCAL_TZ) -> None:
        self.path = path
        self._tz = tz
        self._lock = threading.Lock()
        try:
            self._db = open_private_db(path, MIGRATIONS)
        except SchemaTooNew as exc:
            raise WorkOrderStoreError(str(exc)) from None

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self._lock)

    def create(self, *, call_id: str, created_at: datetime, target: str, target_kind: str,
               reason: str, summary: str, department: str | None = None, line: str | None = None,
               skill: str | None = None, caller_masked: str | None = None,
               classification: dict[str, Any] | None = None, transcript: str | None = None,
               agent: str | None = None) -> WorkOrder:
        """A new open order with the next id of ``created_at``'s local day, on disk on return."""
        require_aware(created_at, "created_at")
        check_masked(caller_masked)
        day = local_day(created_at, self._tz)
        with self._write() as db:
            order = _new_order(
                format_order_id(day, self._next_number(db, day)), call_id=call_id,
                created_at=created_at, target=target, target_kind=target_kind, reason=reason,
                summary=summary, department=department, line=line, skill=skill,
                caller_masked=caller_masked, classification=classification, transcript=transcript,
                agent=agent)
            db.execute(
                f"INSERT INTO work_orders ({_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                (order.id, order.call_id, order.created_at.isoformat(), str(order.status),
                 order.target, order.target_kind, order.department, order.line, order.skill,
                 order.caller_masked, order.reason, order.summary,
                 None if order.classification is None
                 else json.dumps(order.classification, ensure_ascii=False),
                 order.transcript, order.agent))
            self._add_history(db, order.id, 0, order.history[0])
        return order

    @staticmethod
    def _next_number(db: sqlite3.Connection, day: date) -> int:
        key = day.isoformat()
        db.execute("INSERT INTO work_order_days (day, last) VALUES (?, 1) "
                   "ON CONFLICT (day) DO UPDATE SET last = last + 1", (key,))
        number: int = db.execute("SELECT last FROM work_order_days WHERE day = ?", (key,)).fetchone()[0]
        return number

    @staticmethod
    def _add_history(db: sqlite3.Connection, order_id: str, n: int, entry: HistoryEntry) -> None:
        db.execute("INSERT INTO work_order_history (order_id, n, at, status, note) VALUES (?, ?, ?, ?, ?)",
                   (order_id, n, entry.at.isoformat(), str(entry.status), entry.note))

    def _load(self, db: sqlite3.Connection, row: tuple[Any, ...]) -> WorkOrder:
        history = tuple(
            HistoryEntry(datetime.fromisoformat(at), WorkOrderStatus(status), note)
            for at, status, note in db.execute(
                "SELECT at, status, note FROM work_order_history WHERE order_id = ? ORDER BY n",
                (row[0],)))
        return WorkOrder(
            id=row[0], call_id=row[1], created_at=datetime.fromisoformat(row[2]),
            status=WorkOrderStatus(row[3]), target=row[4], target_kind=row[5], department=row[6],
            line=row[7], skill=row[8], caller_masked=row[9], reason=row[10], summary=row[11],
            classification=None if row[12] is None else json.loads(row[12]), transcript=row[13],
            agent=row[14], history=history)

    def _get(self, db: sqlite3.Connection, order_id: str) -> WorkOrder | None:
        row = db.execute(f"SELECT {_COLUMNS} FROM work_orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else self._load(db, row)

    def get(self, order_id: str) -> WorkOrder | None:
        """The order, or None."""
        with self._lock:
            return self._get(self._db, order_id)

    def list(self, status: WorkOrderStatus | None = None, call_id: str | None = None,
             limit: int | None = DEFAULT_LIMIT) -> builtins.list[WorkOrder]:
        """Orders, newest first, optionally filtered; ``limit=None`` for all."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(str(WorkOrderStatus(status)))
        if call_id is not None:
            where.append("call_id = ?")
            params.append(call_id)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        params.append(-1 if limit is None else limit)
        return self._select(f"{clause}ORDER BY seq DESC LIMIT ?", params)

    def pending_delivery(self) -> builtins.list[WorkOrder]:
        """Open orders, oldest first: what the publisher still has to deliver."""
        return self._select("WHERE status = ? ORDER BY seq", [str(WorkOrderStatus.OPEN)])

    def _select(self, tail: str, params: builtins.list[Any]) -> builtins.list[WorkOrder]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM work_orders {tail}", params).fetchall()
            return [self._load(self._db, row) for row in rows]

    def set_status(self, order_id: str, status: WorkOrderStatus, at: datetime,
                   note: str = "") -> WorkOrder:
        """Move an order on, on disk on return; raises WorkOrderNotFound or IllegalWorkOrderTransition."""
        with self._write() as db:
            order = self._get(db, order_id)
            if order is None:
                raise WorkOrderNotFound(order_id)
            moved = order.with_status(WorkOrderStatus(status), at, note)
            db.execute("UPDATE work_orders SET status = ? WHERE id = ?", (str(moved.status), order_id))
            self._add_history(db, order_id, len(order.history), moved.history[-1])
        return moved

    # --- delivery to departments (ivr/mqtt) -------------------------------------------

    def unacknowledged(self, limit: int | None = DEFAULT_LIMIT) -> builtins.list[WorkOrder]:
        """Orders no department has acknowledged yet (open or sent), newest first."""
        marks = ", ".join("?" * len(UNACKNOWLEDGED))
        return self._select(f"WHERE status IN ({marks}) ORDER BY seq DESC LIMIT ?",
                            [*sorted(str(s) for s in UNACKNOWLEDGED), -1 if limit is None else limit])

    def delivery(self, order_id: str) -> Delivery | None:
        """The order's delivery state, or None before its first attempt."""
        with self._lock:
            row = self._db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM work_order_delivery "
                                   "WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else _delivery(row)

    def due_deliveries(self, now: datetime) -> builtins.list[tuple[WorkOrder, Delivery | None]]:
        """Unacknowledged orders whose next attempt is due (never sent: due at once), oldest first."""
        require_aware(now, "now")
        marks = ", ".join("?" * len(UNACKNOWLEDGED))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join('o.' + c.strip() for c in _COLUMNS.split(','))}, "
                f"{', '.join('d.' + c.strip() for c in _DELIVERY_COLUMNS.split(','))} "
                "FROM work_orders o LEFT JOIN work_order_delivery d ON d.order_id = o.id "
                f"WHERE o.status IN ({marks}) ORDER BY o.seq",
                sorted(str(s) for s in UNACKNOWLEDGED)).fetchall()
            found = []
            for row in rows:
                delivery = None if row[15] is None else _delivery(row[15:])
                if delivery is None or delivery.next_attempt_at is None \
                        or delivery.next_attempt_at <= now:
                    found.append((self._load(self._db, row[:15]), delivery))
        return found

    def record_attempt(self, order_id: str, department: str, at: datetime,
                       next_attempt_at: datetime) -> tuple[WorkOrder, Delivery]:
        """One more delivery of an order to ``department``: the first moves it open -> sent."""
        require_aware(at, "at")
        require_aware(next_attempt_at, "next_attempt_at")
        with self._write() as db:
            order = self._get(db, order_id)
            if order is None:
                raise WorkOrderNotFound(order_id)
            db.execute(
                "INSERT INTO work_order_delivery (order_id, department, attempts, first_sent_at, "
                "last_sent_at, next_attempt_at) VALUES (?, ?, 1, ?, ?, ?) "
                "ON CONFLICT (order_id) DO UPDATE SET attempts = attempts + 1, "
                "department = excluded.department, last_sent_at = excluded.last_sent_at, "
                "next_attempt_at = excluded.next_attempt_at",
                (order_id, department, at.isoformat(), at.isoformat(), next_attempt_at.isoformat()))
            if order.status is WorkOrderStatus.OPEN:
                order = self._move(db, order, WorkOrderStatus.SENT, at, f"sent to {department}")
            row = db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM work_order_delivery "
                             "WHERE order_id = ?", (order_id,)).fetchone()
        return order, _delivery(row)

    def acknowledge(self, order_id: str, department: str, by: str,
                    at: datetime) -> tuple[WorkOrder, bool]:
        """The department's client received the order: ``(order, True)`` the first time,
        ``(order, False)`` for a repeated ack (nothing changes). Raises WorkOrderNotFound,
        WrongDepartment, or IllegalWorkOrderTransition (a closed order)."""
        require_aware(at, "at")
        with self._write() as db:
            order = self._get(db, order_id)
            if order is None:
                raise WorkOrderNotFound(order_id)
            addressed = self._addressed(db, order_id)
            if addressed != department:
                raise WrongDepartment(order_id, department, addressed)
            if order.status not in UNACKNOWLEDGED:
                if order.status is WorkOrderStatus.CLOSED:
                    check_transition(order_id, order.status, WorkOrderStatus.ACKNOWLEDGED)
                return order, False
            if order.status is WorkOrderStatus.OPEN:  # delivered, but the controller died first
                order = self._move(db, order, WorkOrderStatus.SENT, at, f"sent to {department}")
            order = self._move(db, order, WorkOrderStatus.ACKNOWLEDGED, at,
                               f"acknowledged by {by} ({department})")
            db.execute("UPDATE work_order_delivery SET acked_at = ?, acked_by = ?, "
                       "next_attempt_at = NULL WHERE order_id = ?", (at.isoformat(), by, order_id))
        return order, True

    def department_update(self, order_id: str, department: str, status: WorkOrderStatus,
                          at: datetime, note: str) -> WorkOrder:
        """A status the department reports (accepted, returned, resolved), checked against
        the transition table and the order's department."""
        with self._write() as db:
            order = self._get(db, order_id)
            if order is None:
                raise WorkOrderNotFound(order_id)
            addressed = self._addressed(db, order_id)
            if addressed != department:
                raise WrongDepartment(order_id, department, addressed)
            return self._move(db, order, WorkOrderStatus(status), at, note)

    def mark_escalated(self, order_id: str, at: datetime) -> None:
        """The order was escalated (published on the escalation topic)."""
        with self._write() as db:
            db.execute("UPDATE work_order_delivery SET escalated_at = ? WHERE order_id = ?",
                       (at.isoformat(), order_id))

    @staticmethod
    def _addressed(db: sqlite3.Connection, order_id: str) -> str | None:
        row = db.execute("SELECT department FROM work_order_delivery WHERE order_id = ?",
                         (order_id,)).fetchone()
        return None if row is None else str(row[0])

    def _move(self, db: sqlite3.Connection, order: WorkOrder, status: WorkOrderStatus,
              at: datetime, note: str) -> WorkOrder:
        moved = order.with_status(status, at, note)
        db.execute("UPDATE work_orders SET status = ? WHERE id = ?", (str(moved.status), order.id))
        self._add_history(db, order.id, len(order.history), moved.history[-1])
        return moved

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


class InMemoryWorkOrderStore:
    """The same behaviour in a dict: for unit tests of code that files work orders."""

    def __init__(self, *, tz: ZoneInfo = LOCAL_TZ) -> None:
        self._tz = tz
        self._lock = threading.Lock()
        self._orders: dict[str, WorkOrder] = {}
        self._days: dict[date, int] = {}

    def create(self, *, call_id: str, created_at: datetime, target: str, target_kind: str,
               reason: str, summary: str, department: str | None = None, line: str | None = None,
               skill: str | None = None, caller_masked: str | None = None,
               classification: dict[str, Any] | None = None, transcript: str | None = None,
               agent: str | None = None) -> WorkOrder:
        """A new open order with the next id of ``created_at``'s local day."""
        require_aware(created_at, "created_at")
        check_masked(caller_masked)
        day = local_day(created_at, self._tz)
        with self._lock:
            number = self._days.get(day, 0) + 1
            order = _new_order(
                format_order_id(day, number), call_id=call_id, created_at=created_at, target=target,
                target_kind=target_kind, reason=reason, summary=summary, department=department,
                line=line, skill=skill, caller_masked=caller_masked, classification=classification,
                transcript=transcript, agent=agent)
            self._days[day] = number
            self._orders[order.id] = order
        return order

    def get(self, order_id: str) -> WorkOrder | None:
        """The order, or None."""
        return self._orders.get(order_id)

    def list(self, status: WorkOrderStatus | None = None, call_id: str | None = None,
             limit: int | None = DEFAULT_LIMIT) -> builtins.list[WorkOrder]:
        """Orders, newest first, optionally filtered; ``limit=None`` for all."""
        with self._lock:
            found = [o for o in reversed(self._orders.values())
                     if (status is None or o.status == status) and (call_id is None or o.call_id == call_id)]
        return found if limit is None or limit < 0 else found[:limit]

    def set_status(self, order_id: str, status: WorkOrderStatus, at: datetime,
                   note: str = "") -> WorkOrder:
        """Move an order on; raises WorkOrderNotFound or IllegalWorkOrderTransition."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise WorkOrderNotFound(order_id)
            moved = order.with_status(WorkOrderStatus(status), at, note)
            self._orders[order_id] = moved
        return moved

    def pending_delivery(self) -> builtins.list[WorkOrder]:
        """Open orders, oldest first."""
        with self._lock:
            return [o for o in self._orders.values() if o.status == WorkOrderStatus.OPEN]

    def close(self) -> None:
        """Nothing to release."""
