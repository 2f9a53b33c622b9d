"""Supervised tasks come back after a failure, and FastAGI keeps answering meanwhile."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from ivr.ami.client import AmiSettings
from ivr.controller.service import Controller
from ivr.controller.settings import ControllerSettings
from ivr.core.events import EventStream, TaskRestarted
from ivr.core.supervisor import Supervisor, TaskSpec
from testkit.agi import agi_request
from testkit.config import edited_config

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(condition: object, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_failing_task_is_restarted_and_reported() -> None:
    stream = EventStream()
    reports = stream.queue("test", (TaskRestarted,))
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")
        await asyncio.Event().wait()

    async with Supervisor(stream, backoff_s=0.01) as supervisor:
        supervisor.start(TaskSpec("flaky", flaky))
        await wait_for(lambda: len(runs) == 3)
        health = supervisor.health["flaky"]
        assert health.restarts == 2 and health.running
        assert health.history == ["RuntimeError: boom 1", "RuntimeError: boom 2"]
    first = await reports.get()
    assert isinstance(first, TaskRestarted) and first.task == "flaky" and first.restarts == 1


async def test_a_task_that_returns_is_started_again() -> None:
    runs: list[int] = []

    async def quits() -> None:
        runs.append(1)

    async with Supervisor(backoff_s=0.01, backoff_max_s=0.02) as supervisor:
        supervisor.start(TaskSpec("quits", quits))
        await wait_for(lambda: len(runs) >= 3)
    assert supervisor.health["quits"].history[0] == "returned"


async def test_one_task_failing_never_stops_another() -> None:
    ticks: list[int] = []

    async def steady() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0.005)

    async def broken() -> None:
        raise OSError("disk full")

    async with Supervisor(backoff_s=0.01, backoff_max_s=0.02) as supervisor:
        supervisor.start(TaskSpec("steady", steady))
        supervisor.start(TaskSpec("broken", broken))
        await wait_for(lambda: supervisor.health["broken"].restarts >= 3)
        before = len(ticks)
        await wait_for(lambda: len(ticks) > before + 3)
        assert supervisor.health["steady"].restarts == 0


async def test_spawned_work_failing_is_contained() -> None:
    done = asyncio.Event()

    async def fails() -> None:
        raise ValueError("one request's bug")

    async def works() -> None:
        done.set()

    async with Supervisor() as supervisor:
        supervisor.spawn(fails(), "fails")
        supervisor.spawn(works(), "works")
        await asyncio.wait_for(done.wait(), 5)


async def route(port: int) -> tuple[str, str]:
    """Where FastAGI sends a 12345 call: (target kind, queue)."""
    answer = await agi_request(port, "route", env={"agi_extension": "12345"})
    return answer.get("HOTLINE_TARGET_KIND", ""), answer.get("HOTLINE_QUEUE", "")


@pytest.fixture
def settings(tmp_path: Path) -> ControllerSettings:
    closed = free_port()  # nothing listens there: AMI keeps retrying, as with Asterisk down
    socket_edit = ("audiosocket: {host: 127.0.0.1, port: 9092}",
                   f"audiosocket: {{host: 127.0.0.1, port: {free_port()}}}")
    return ControllerSettings(
        config_dir=edited_config(REPO, tmp_path / "config", (socket_edit,)),
        recordings_dir=tmp_path / "recordings", run_dir=tmp_path / "run",
        agi_port=free_port(), ami=AmiSettings(port=closed, secret="x"), reload_poll_s=0.2)


async def test_every_supervised_task_comes_back_while_fastagi_answers(
        settings: ControllerSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_VOSK_MODEL", str(settings.run_dir / "no-model"))
    controller = Controller(settings)
    run = asyncio.create_task(controller.run())
    try:
        await wait_for(lambda: controller.supervisor.health.get("acd-snapshot") is not None
                       and controller.supervisor.health["acd-snapshot"].running, 30)
        first = await route(settings.agi_port)
        assert first == ("queue", "hl-general")
        names = sorted(controller.supervisor.health)
        assert {"control-server", "config-watcher", "call-store-expiry", "ami-session",
                "acd-snapshot", "speech-audiosocket"} <= set(names)
        for name in names:
            health = controller.supervisor.health[name]
            starts = health.starts
            assert controller.supervisor.restart(name), name
            answer = await route(settings.agi_port)  # FastAGI answers during the restart
            assert answer == first, name
            await wait_for(lambda h=health, s=starts: h.starts > s and h.running)
            assert health.history[-1] == "restart requested"
        assert not run.done()
        # the call store recorded every routed call
        assert controller.calls is not None
        await controller.calls.flush()
        record = await controller.calls.get("1700000000.1")
        assert record is not None and record.first("decided") is not None
    finally:
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
