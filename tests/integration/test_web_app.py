"""The wallboard/desk server without Asterisk: login on every page, roles, CSRF, the live
board fed by events, server-sent events, generated credentials (ivr/web).

In tests/integration beside the browser tests; needs no sandbox and runs in a second."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from ivr.core.events import AgentStateChanged, call_event
from ivr.web.app import COOKIE, WebApp
from ivr.web.board import LiveBoard
from ivr.web.users import User, Users, load_users

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
AGENT = User("2001", "甲", "agent", "PJSIP/agent-1001")
SUPERVISOR = User("9001", "值班长", "supervisor")
PASSWORDS = {"2001": "agent-pw", "9001": "super-pw"}


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t


class Setup:
    def __init__(self) -> None:
        self.clock = Clock()
        self.users = Users([AGENT, SUPERVISOR], PASSWORDS)
        self.board = LiveBoard(self.clock.now, lambda: self.users.by_id)
        self.paused: list[tuple[str, bool]] = []
        self.transfers: list[tuple[str, str, str]] = []

        async def pause(user: User, paused: bool) -> str | None:
            self.paused.append((user.id, paused))
            return None

        async def transfer(call_id: str, target: str, summary: str) -> str | None:
            self.transfers.append((call_id, target, summary))
            return None

        self.web = WebApp(self.board, lambda: self.users, pause, transfer=transfer,
                          endpoints=lambda: {"subcenter-12366": "税务 tax sub-center"})

    def step(self, call_id: str, name: str, seconds: float = 0, **data: Any) -> None:
        self.board.handle(call_event(name, call_id, T0 + timedelta(seconds=seconds), data))


@pytest.fixture
async def env() -> AsyncIterator[tuple[Setup, TestClient[Any, Any]]]:
    setup = Setup()
    client: TestClient[Any, Any] = TestClient(TestServer(setup.web.app))
    await client.start_server()
    yield setup, client
    await client.close()


async def login(client: TestClient[Any, Any], user: str, password: str) -> int:
    resp = await client.post("/login", data={"user": user, "password": password},
                             allow_redirects=False)
    return resp.status


def csrf(setup: Setup, client: TestClient[Any, Any]) -> str:
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    return setup.web.sessions[token].csrf


async def test_every_page_needs_a_login(env: tuple[Setup, TestClient[Any, Any]]) -> None:
    _, client = env
    for path in ("/", "/wallboard", "/desk"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/login", path
    assert (await client.get("/events")).status == 401
    assert (await client.post("/api/pause")).status == 401
    assert (await client.get("/login")).status == 200
    assert await login(client, "2001", "wrong") == 401
    assert await login(client, "nobody", "agent-pw") == 401


async def test_an_agent_gets_the_desk_never_the_wallboard(
        env: tuple[Setup, TestClient[Any, Any]]) -> None:
    setup, client = env
    resp = await client.post("/login", data={"user": "2001", "password": "agent-pw"},
                             allow_redirects=False)
    assert resp.status == 302
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    resp = await client.get("/", allow_redirects=False)
    assert resp.headers["Location"] == "/desk"
    desk = await client.get("/desk")
    assert desk.status == 200 and "坐席工作台" in await desk.text()
    wall = await client.get("/wallboard")
    assert wall.status == 403 and "无权访问" in await wall.text()
    assert (await client.post("/api/pause")).status == 403  # no CSRF token
    ok = await client.post("/api/pause", headers={"X-CSRF-Token": csrf(setup, client)})
    assert ok.status == 200
    await client.post("/api/resume", headers={"X-CSRF-Token": csrf(setup, client)})
    assert setup.paused == [("2001", True), ("2001", False)]
    await client.post("/logout", data={"csrf": csrf(setup, client)})
    assert (await client.get("/desk", allow_redirects=False)).status == 302


async def test_a_supervisor_gets_the_wallboard_and_cannot_pause(
        env: tuple[Setup, TestClient[Any, Any]]) -> None:
    setup, client = env
    assert await login(client, "9001", "super-pw") == 302
    assert (await client.get("/", allow_redirects=False)).headers["Location"] == "/wallboard"
    page = await client.get("/wallboard")
    assert page.status == 200 and "实时大屏" in await page.text()
    assert (await client.get("/desk")).status == 403
    resp = await client.post("/api/pause", headers={"X-CSRF-Token": csrf(setup, client)})
    assert resp.status == 403 and setup.paused == []


async def next_event(resp: Any) -> dict[str, Any]:
    while True:
        line = await asyncio.wait_for(resp.content.readline(), 3)
        if line.startswith(b"data: "):
            data: dict[str, Any] = json.loads(line[6:])
            return data


async def test_the_wallboard_stream_follows_the_calls(
        env: tuple[Setup, TestClient[Any, Any]]) -> None:
    setup, client = env
    await login(client, "9001", "super-pw")
    resp = await client.get("/events")
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert (await next_event(resp))["waiting"] == 0
    setup.step("c1", "decided", number="12396", mode="whole_merge", phase="transition",
               caller="138******01")
    setup.step("c1", "queued", 1, queue="hl-general")
    data = await next_event(resp)
    while data["waiting"] != 1:
        data = await next_event(resp)
    assert data["queues"] == [{"skill": "general", "waiting": 1, "longest_wait_s": 0.0}]
    setup.step("c1", "hangup", 5)
    while data["waiting"] != 0:
        data = await next_event(resp)
    assert data["kpis"]["offered"] == 1 and data["kpis"]["abandoned"] == 1
    assert data["hourly"][10] == 1  # 10:00 Beijing time
    resp.close()


async def test_the_desk_pops_the_offered_call(env: tuple[Setup, TestClient[Any, Any]]) -> None:
    setup, client = env
    await login(client, "2001", "agent-pw")
    resp = await client.get("/events")
    assert (await next_event(resp))["call"] is None
    setup.step("c2", "decided", number="12396", mode="whole_merge", phase="transition",
               caller="138******02", line_name="科技热线")
    setup.step("c2", "classified", 1, classification={"domain": "tax", "urgency": "normal"},
               transcript="我想问一下个税")
    setup.step("c2", "queued", 2, queue="hl-tax")
    setup.step("c2", "ringing", 2, dest="PJSIP/agent-1001-0000002a")
    data = await next_event(resp)
    while data["call"] is None:
        data = await next_event(resp)
    call = data["call"]
    assert (call["state"], call["number"], call["phase"], call["caller"]) == (
        "ringing", "12396", "transition", "138******02")
    assert call["classification"]["domain"] == "tax" and call["transcript"] == "我想问一下个税"
    setup.step("c2", "answered", 4, agent="2001", queue="hl-tax", hold_s=2)
    setup.board.handle(AgentStateChanged(at=T0, agent_id="2001", state="on_call"))
    while data["call"]["state"] != "talking" or data["agent"]["state"] != "on_call":
        data = await next_event(resp)
    resp.close()


async def test_the_desk_transfers_only_its_own_call_in_progress(
        env: tuple[Setup, TestClient[Any, Any]]) -> None:
    setup, client = env
    await login(client, "2001", "agent-pw")
    headers = {"X-CSRF-Token": csrf(setup, client)}
    body = {"target": "line", "summary": "咨询个税，需分中心答复"}
    assert (await client.post("/api/transfer", json=body, headers=headers)).status == 409
    setup.step("c3", "decided", number="12366", mode="sub_center", phase="active")
    setup.step("c3", "queued", 1, queue="hl-general")
    setup.step("c3", "ringing", 2, dest="PJSIP/agent-1001-0000002b")
    assert (await client.post("/api/transfer", json=body, headers=headers)).status == 409
    setup.step("c3", "answered", 3, agent="2001", queue="hl-general", hold_s=2)
    bad = await client.post("/api/transfer", json={"target": "PJSIP/evil"}, headers=headers)
    assert bad.status == 400
    assert (await client.post("/api/transfer", json=body)).status == 403  # no CSRF token
    assert (await client.post("/api/transfer", json=body, headers=headers)).status == 200
    assert setup.transfers == [("c3", "line", "咨询个税，需分中心答复")]
    # any transferable endpoint of the configuration, offered in the desk's list
    assert "<option value='subcenter-12366'>税务 tax sub-center</option>" in await (
        await client.get("/desk")).text()
    endpoint = {"target": "subcenter-12366", "summary": ""}
    assert (await client.post("/api/transfer", json=endpoint, headers=headers)).status == 200
    assert setup.transfers[-1] == ("c3", "subcenter-12366", "")


async def test_monitoring_is_for_supervisors_with_a_phone(
        env: tuple[Setup, TestClient[Any, Any]]) -> None:
    setup, client = env
    asked: list[tuple[str, str, str]] = []

    async def supervise(user: User, agent: str, mode: str) -> str | None:
        asked.append((user.id, agent, mode))
        return None

    setup.web._supervise = supervise
    await login(client, "9001", "super-pw")  # wallboard-only: no phone
    headers = {"X-CSRF-Token": csrf(setup, client)}
    body = {"agent": "2001", "mode": "listen"}
    assert (await client.post("/api/supervise", json=body, headers=headers)).status == 409
    setup.users = Users([AGENT, User("9001", "值班长", "supervisor", "PJSIP/supervisor-1101")],
                        PASSWORDS)
    await login(client, "9001", "super-pw")  # now a roster supervisor with a phone
    headers = {"X-CSRF-Token": csrf(setup, client)}
    bad = await client.post("/api/supervise", json={"agent": "9001", "mode": "listen"},
                            headers=headers)
    assert bad.status == 400
    assert (await client.post("/api/supervise", json=body, headers=headers)).status == 200
    assert asked == [("9001", "2001", "listen")]
    page = await (await client.get("/wallboard")).text()
    assert "data-monitor='1'" in page
    await login(client, "2001", "agent-pw")
    headers = {"X-CSRF-Token": csrf(setup, client)}
    assert (await client.post("/api/supervise", json=body, headers=headers)).status == 403


def test_snapshot_does_not_undo_a_newer_event() -> None:
    setup = Setup()
    board = setup.board
    board.apply_snapshot({"at": T0.isoformat(),
                          "agent_list": [{"agent": "2001", "state": "available"}]})
    assert board.desk("2001")["agent"]["state"] == "available"
    board.handle(AgentStateChanged(at=T0 + timedelta(seconds=2), agent_id="2001", state="paused"))
    board.apply_snapshot({"at": (T0 + timedelta(seconds=1)).isoformat(),
                          "agent_list": [{"agent": "2001", "state": "available"}]})
    assert board.desk("2001")["agent"]["state"] == "paused"
    board.apply_snapshot({"at": (T0 + timedelta(seconds=3)).isoformat(),
                          "agent_list": [{"agent": "2001", "state": "paused"}]})
    assert board.wallboard()["agents"]["paused"] == 1


def test_todays_figures_start_again_at_midnight() -> None:
    setup = Setup()
    setup.step("a", "decided", number="12345")
    setup.step("a", "hangup", 1)
    assert setup.board.wallboard()["kpis"]["offered"] == 1
    setup.clock.t = T0 + timedelta(days=1)
    assert setup.board.wallboard()["kpis"]["offered"] == 0


def test_passwords_are_generated_private_and_kept(tmp_path: Path) -> None:
    users = [AGENT, SUPERVISOR]
    first = load_users(users, tmp_path, env={})
    path = tmp_path / "web-users.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert set(stored) == {"2001", "9001"} and len(stored["2001"]) >= 16
    assert first.check("2001", stored["2001"]) == AGENT
    again = load_users(users, tmp_path, env={"HOTLINE_WEB_PASSWORD_9001": "from-env"})
    assert again.check("2001", stored["2001"]) == AGENT  # kept across restarts
    assert again.check("9001", "from-env") == SUPERVISOR
    assert again.check("9001", stored["9001"]) is None


def test_the_shipped_configuration_serves_the_web_on_loopback() -> None:
    from ivr.config.engine import load_engine_config
    from ivr.controller.app import FEATURES
    from ivr.web.feature import register

    config = load_engine_config(Path(__file__).resolve().parents[2])
    assert config.rules.web.enabled and config.rules.web.host == "127.0.0.1"
    assert config.rules.web.port not in (config.rules.metrics.port, 4573, 5038, 5060, 9092, 1883)
    assert config.rules.web.supervisors and register in FEATURES


async def test_the_server_binds_where_configured(unused_tcp_port: int) -> None:
    from ivr.web.app import serve

    setup = Setup()
    task = asyncio.create_task(serve(setup.web.app, "127.0.0.1", unused_tcp_port))
    try:
        for _ in range(50):
            await asyncio.sleep(0.05)
            try:
                async with ClientSession() as session, session.get(
                        f"http://127.0.0.1:{unused_tcp_port}/login") as resp:
                    assert resp.status == 200
                    break
            except OSError:
                continue
        else:
            pytest.fail("the web server did not start")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
