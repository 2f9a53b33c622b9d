"""The web feature: the wallboard and agent desks served from inside the controller
(``web:`` in routing_rules.yaml, read at start-up; http://127.0.0.1:8345/ by default)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from ivr.core.events import AgentStateChanged, CallEvent
from ivr.core.features import Core, Feature, MissingService
from ivr.core.supervisor import TaskSpec
from ivr.web import history
from ivr.web.app import WebApp, serve
from ivr.web.board import LiveBoard
from ivr.web.users import User, Users, load_users

log = logging.getLogger(__name__)

RESTART_SETTINGS: tuple[tuple[str, ...], ...] = (
    ("web", "enabled"), ("web", "host"), ("web", "port"), ("web", "session_hours"),
)
KINDS = (CallEvent, AgentStateChanged)
QUEUE_MAX = 10_000


def register(core: Core) -> Feature:
    """Web: a queued subscriber feeding the live board, the snapshot poller, the server."""
    rules = core.current().rules.web
    if not rules.enabled:
        return Feature(name="web", restart_settings=RESTART_SETTINGS)

    def roster_users() -> list[User]:
        """Agents and supervisors from agents.yaml (its ``supervisors:`` where the roster
        has them), plus ``web.supervisors`` (wallboard-only, no phone)."""
        config = core.current()
        found = [User(a.id, a.name, "agent", a.interface) for a in config.roster.agents]
        for sup in getattr(config.roster, "supervisors", None) or []:
            found.append(User(str(sup.id), str(sup.name), "supervisor", str(sup.interface)))
        for extra in config.rules.web.supervisors:
            if any(u.id == extra.id for u in found):
                log.warning("web: supervisor %s is already in agents.yaml; ignored", extra.id)
                continue
            found.append(User(extra.id, extra.name, "supervisor"))
        return found

    users_box: dict[str, Users] = {}

    def users() -> Users:
        found = users_box.get("users")
        if found is None:
            found = users_box["users"] = load_users(roster_users(), core.run_dir.path)
        return found

    board = LiveBoard(core.clock.now, lambda: users().by_id,
                      target_s=core.current().rules.timing.answer_target_s)
    queue = core.stream.queue("web", KINDS, QUEUE_MAX)

    async def pause(user: User, paused: bool) -> str | None:
        ami = core.ami()
        if ami is None or ami.closed or not user.interface:
            return "ACD not connected"
        fields = {"Interface": user.interface, "Paused": "true" if paused else "false"}
        if paused:
            fields["Reason"] = "desk"
        reply = await ami.action("QueuePause", fields)
        if reply.get("Response") != "Success":
            return reply.get("Message") or "refused"
        return None

    async def transfer(call_id: str, target: str, summary: str) -> str | None:
        """Through the control API, exactly as ``hotline transfer start`` does."""
        from ivr.control.client import ControlUnavailable, call

        try:
            reply = await asyncio.to_thread(
                call, core.run_dir.path / "control.sock", "transfer.start", call_id=call_id,
                target=target, summary=summary or None)
        except ControlUnavailable as exc:
            return str(exc)
        return None if reply.get("ok") else str(reply.get("error") or "refused")

    async def supervise(supervisor: User, agent_id: str, mode: str) -> str | None:
        """Listen/whisper/barge through the control API (``supervise.start``), where the
        engine has it: the supervisor's phone rings into the agent's call."""
        from ivr.control.client import ControlUnavailable, call

        try:
            reply = await asyncio.to_thread(
                call, core.run_dir.path / "control.sock", "supervise.start",
                supervisor=supervisor.id, agent=agent_id, mode=mode)
        except ControlUnavailable as exc:
            return str(exc)
        return None if reply.get("ok") else str(reply.get("error") or "refused")

    def endpoints() -> dict[str, str]:
        """The endpoints an agent may transfer to (sub-centers, utilities, departments)."""
        return {name: e.description or name
                for name, e in core.current().rules.endpoints.items() if e.transferable}

    web_app = WebApp(board, users, pause, session_s=rules.session_hours * 3600,
                     transfer=transfer, supervise=supervise, endpoints=endpoints)

    orders: history.OpenOrders | None = None
    try:  # the caller's unfinished work orders, where the workorders feature runs
        from ivr.workorders.queries import open_for_calls
        from ivr.workorders.store import WorkOrderStore

        store = core.need(WorkOrderStore)  # type: ignore[type-abstract]

        async def open_orders(call_ids: Sequence[str]) -> list[Any]:
            return await asyncio.to_thread(open_for_calls, store, call_ids)

        orders = open_orders
    except MissingService:
        pass

    async def look_up(call_id: str) -> None:
        """The caller's earlier calls and open work orders onto the desk (best effort)."""
        try:
            calls, found = await history.lookup(call_id, core.calls.same_caller, orders)
        except Exception:
            log.exception("web: the history of call %s could not be read", call_id)
            calls, found = [], []
        board.set_history(call_id, calls, found)

    async def consume() -> None:
        async for event in queue:
            board.handle(event)
            for call_id in board.take_lookups():
                core.spawn(look_up(call_id), f"web-history-{call_id}")

    async def poll_snapshot() -> None:
        path = core.run_dir.acd_snapshot
        while True:
            try:
                data: dict[str, Any] | None = json.loads(
                    await asyncio.to_thread(path.read_text, encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            board.apply_snapshot(data)
            await asyncio.sleep(1.0)

    async def start() -> None:
        users()  # credentials generated before the first page, logged where they are
        log.info("web: passwords in %s (or $HOTLINE_WEB_PASSWORD_<ID>)",
                 core.run_dir.path / "web-users.json")

    async def reload(_config: object) -> None:
        users_box.pop("users", None)  # a new roster: new agents get passwords

    core.provide(LiveBoard, board)
    return Feature(
        name="web",
        tasks=(TaskSpec("web-events", consume), TaskSpec("web-acd-snapshot", poll_snapshot),
               TaskSpec("web-http", lambda: serve(web_app.app, rules.host, rules.port))),
        restart_settings=RESTART_SETTINGS,
        on_start=start,
        on_reload=reload,
    )
