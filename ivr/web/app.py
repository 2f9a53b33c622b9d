"""The web server: login for every page, roles, server-sent events, the desk's actions.

Sessions are random tokens in an HttpOnly, SameSite=Strict cookie, kept in memory (a
controller restart logs everyone out); every state-changing request also carries the
session's CSRF token.  Agents open the desk, supervisors the wallboard; each one's
``/events`` stream sends its own page's data as JSON on every change (and at least
every second for the clocks)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ivr.web import pages
from ivr.web.board import LiveBoard
from ivr.web.users import User, Users

log = logging.getLogger(__name__)

COOKIE = "hotline_session"
FAILED_LOGIN_DELAY_S = 0.5
SSE_TICK_S = 1.0
SSE_MIN_INTERVAL_S = 0.05

#: pause(user, paused) -> None on success, else why not
PauseAction = Callable[[User, bool], Awaitable[str | None]]
#: transfer(call_id, target, summary) -> None on success, else why not
TransferAction = Callable[[str, str, str], Awaitable[str | None]]
#: what the desk's transfer buttons may ask for: the dialled line's sub-center (or kept
#: seats) and the emergency services
TRANSFER_TARGETS = ("line", "110", "119", "120", "122")
#: supervise(supervisor, agent id, mode) -> None on success, else why not
SuperviseAction = Callable[[User, str, str], Awaitable[str | None]]
SUPERVISE_MODES = ("listen", "whisper", "barge")
MAX_SUMMARY = 500


async def _no_transfer(_call_id: str, _target: str, _summary: str) -> str | None:
    return "transfers are not available"


async def _no_supervise(_user: User, _agent: str, _mode: str) -> str | None:
    return "monitoring is not available"


@dataclass
class Session:
    """One logged-in browser."""

    user: User
    csrf: str
    expires: float


class WebApp:
    """The aiohttp application and its sessions."""

    def __init__(self, board: LiveBoard, users: Callable[[], Users], pause: PauseAction,
                 session_s: float = 12 * 3600, transfer: TransferAction = _no_transfer,
                 supervise: SuperviseAction = _no_supervise,
                 endpoints: Callable[[], dict[str, str]] = dict) -> None:
        self.board = board
        self._endpoints = endpoints  # transferable endpoints: name -> description
        self._users = users
        self._pause = pause
        self._transfer = transfer
        self._supervise = supervise
        self._session_s = session_s
        self.sessions: dict[str, Session] = {}
        self.app = web.Application(middlewares=[self._auth], client_max_size=64 * 1024)
        self.app.add_routes([
            web.get("/login", self.login_form), web.post("/login", self.login),
            web.post("/logout", self.logout), web.get("/", self.home),
            web.get("/wallboard", self.wallboard), web.get("/desk", self.desk),
            web.get("/events", self.events),
            web.post("/api/pause", self.pause), web.post("/api/resume", self.resume),
            web.post("/api/transfer", self.transfer), web.post("/api/supervise", self.supervise),
        ])

    # -- sessions -----------------------------------------------------------------------
    def session(self, request: web.Request) -> Session | None:
        """The request's live session, if any."""
        token = request.cookies.get(COOKIE)
        found = self.sessions.get(token) if token else None
        if found is None:
            return None
        if found.expires < time.monotonic():
            self.sessions.pop(str(token), None)
            return None
        return found

    def _current(self, request: web.Request) -> Session:
        """The session the middleware checked."""
        found = self.session(request)
        if found is None:
            raise web.HTTPUnauthorized(text="log in first")
        return found

    @web.middleware
    async def _auth(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.path == "/login":
            return await handler(request)
        found = self.session(request)
        if found is None:
            if request.method == "GET" and request.path != "/events":
                raise web.HTTPFound("/login")
            raise web.HTTPUnauthorized(text="log in first")
        if request.method == "POST":
            token = request.headers.get("X-CSRF-Token")
            if token is None and request.content_type == "application/x-www-form-urlencoded":
                token = str((await request.post()).get("csrf", ""))
            if not token or not secrets.compare_digest(token, found.csrf):
                raise web.HTTPForbidden(text="bad CSRF token")
        return await handler(request)

    @staticmethod
    def _html(text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                     "Content-Security-Policy":
                                         "default-src 'self'; script-src 'unsafe-inline'; "
                                         "style-src 'unsafe-inline'; img-src 'self' data:"})

    # -- pages --------------------------------------------------------------------------
    async def login_form(self, request: web.Request) -> web.Response:
        return self._html(pages.login_page())

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        user = self._users().check(str(form.get("user", "")), str(form.get("password", "")))
        if user is None:
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)
            log.warning("web: failed login for %r", str(form.get("user", ""))[:32])
            return self._html(pages.login_page("工号或密码错误 wrong ID or password"), 401)
        token = secrets.token_urlsafe(32)
        self.sessions[token] = Session(user, secrets.token_urlsafe(24),
                                       time.monotonic() + self._session_s)
        log.info("web: %s %s logged in", user.role, user.id)
        response = web.HTTPFound("/")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                            max_age=int(self._session_s))
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        self.sessions.pop(request.cookies.get(COOKIE, ""), None)
        response = web.HTTPFound("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    async def home(self, request: web.Request) -> web.Response:
        found = self._current(request)
        raise web.HTTPFound("/wallboard" if found.user.role == "supervisor" else "/desk")

    async def wallboard(self, request: web.Request) -> web.Response:
        found = self._current(request)
        if found.user.role != "supervisor":
            return self._html(pages.forbidden_page(found.user.role), 403)
        return self._html(pages.wallboard_page(found.user.name, found.csrf,
                                               monitor=bool(found.user.interface)))

    async def desk(self, request: web.Request) -> web.Response:
        found = self._current(request)
        if found.user.role != "agent":
            return self._html(pages.forbidden_page(found.user.role), 403)
        return self._html(pages.desk_page(found.user.name, found.csrf, self._endpoints()))

    def _view(self, found: Session) -> dict[str, Any]:
        if found.user.role == "supervisor":
            return self.board.wallboard()
        return self.board.desk(found.user.id)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the page's data now, then on every change (≥ once a second)."""
        found = self._current(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        try:
            while self.session(request) is not None:
                seen = self.board.version
                data = json.dumps(self._view(found), ensure_ascii=False, separators=(",", ":"))
                await response.write(f"data: {data}\n\n".encode())
                await asyncio.sleep(SSE_MIN_INTERVAL_S)  # coalesce bursts (50 calls/s)
                await self.board.wait_change(seen, SSE_TICK_S)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def _set_pause(self, request: web.Request, paused: bool) -> web.Response:
        found = self._current(request)
        if found.user.role != "agent":
            raise web.HTTPForbidden(text="agents only")
        problem = await self._pause(found.user, paused)
        if problem is not None:
            return web.Response(status=503, text=problem)
        log.info("web: agent %s %s from the desk", found.user.id, "paused" if paused else "resumed")
        return web.Response(text="ok")

    async def pause(self, request: web.Request) -> web.Response:
        return await self._set_pause(request, True)

    async def resume(self, request: web.Request) -> web.Response:
        return await self._set_pause(request, False)

    async def supervise(self, request: web.Request) -> web.Response:
        """A supervisor's listen/whisper/barge on an agent's call (their phone rings)."""
        found = self._current(request)
        if found.user.role != "supervisor":
            raise web.HTTPForbidden(text="supervisors only")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="JSON body expected") from None
        agent = str(body.get("agent", "")) if isinstance(body, dict) else ""
        mode = str(body.get("mode", "")) if isinstance(body, dict) else ""
        target = self._users().by_id.get(agent)
        if mode not in SUPERVISE_MODES or target is None or target.role != "agent":
            raise web.HTTPBadRequest(text="an agent id and listen, whisper or barge")
        if not found.user.interface:
            return web.Response(status=409, text="this supervisor has no phone in agents.yaml")
        problem = await self._supervise(found.user, agent, mode)
        if problem is not None:
            return web.Response(status=503, text=problem)
        log.info("web: supervisor %s %s agent %s", found.user.id, mode, agent)
        return web.Response(text="ok")

    async def transfer(self, request: web.Request) -> web.Response:
        """Transfer the agent's current call (the control API's ``transfer.start``); the
        summary goes with it, and into the work order if the target does not answer."""
        found = self._current(request)
        if found.user.role != "agent":
            raise web.HTTPForbidden(text="agents only")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="JSON body expected") from None
        target = str(body.get("target", "")) if isinstance(body, dict) else ""
        summary = str(body.get("summary") or "")[:MAX_SUMMARY] if isinstance(body, dict) else ""
        allowed = (*TRANSFER_TARGETS, *self._endpoints())
        if target not in allowed:
            raise web.HTTPBadRequest(text=f"target must be one of {', '.join(allowed)}")
        call = self.board.desk(found.user.id)["call"]
        if call is None or call["state"] != "talking":
            return web.Response(status=409, text="no call in progress")
        problem = await self._transfer(call["call_id"], target, summary)
        if problem is not None:
            return web.Response(status=503, text=problem)
        log.info("web: agent %s transferred call %s to %s", found.user.id, call["call_id"], target)
        return web.Response(text="ok")


async def serve(app: web.Application, host: str, port: int, retry_s: float = 10.0) -> None:
    """Run ``app`` on ``host:port`` until cancelled; a taken port is logged once and retried."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    warned = False
    try:
        while True:
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                (log.debug if warned else log.warning)(
                    "web: cannot listen on %s:%d (%s); retrying every %.0f s", host, port,
                    exc.strerror or exc, retry_s)
                warned = True
                await asyncio.sleep(retry_s)
                continue
            log.info("web: wallboard and agent desk at http://%s:%d/", host, port)
            await asyncio.Event().wait()
    finally:
        await runner.cleanup()
