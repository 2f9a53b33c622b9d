"""A routed call is on record before the dialplan hears its decision: a controller killed
the next moment (SIGKILL, a crash) has not lost the call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.agi.codec import AgiEnvironment
from ivr.calls import service as routing
from ivr.calls.service import RoutingService
from ivr.config.engine import load_engine_config
from ivr.core.callstore import CallStore, CallStoreReader
from ivr.core.events import CallEvent, CallSteps, EventStream

REPO = Path(__file__).resolve().parents[2]
CALL = "1795931622.7132"


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


class Session:
    """A FastAGI session that notes, when the decision is sent, what another process
    reading the call store would see."""

    def __init__(self, reader: CallStoreReader | None) -> None:
        self.env = AgiEnvironment({"agi_network_script": "route", "agi_uniqueid": CALL,
                                   "agi_extension": "12345", "agi_callerid": "13800138000"})
        self.reader = reader
        self.on_record_when_sent: bool | None = None
        self.sent: dict[str, str] = {}

    async def set_variables(self, variables: dict[str, str]) -> None:
        if self.reader is not None:
            self.on_record_when_sent = self.reader.get(CALL) is not None
        self.sent.update(variables)


def test_the_decision_is_committed_before_the_dialplan_gets_it(tmp_path: Path) -> None:
    config = load_engine_config(REPO)

    async def main() -> Session:
        stream = EventStream()
        # a long commit interval: without the wait the step would still be queued
        async with CallStore(tmp_path / "calls.db", commit_interval_s=5.0) as store:
            stream.subscribe("call-store", store.record, (CallEvent,))  # type: ignore[arg-type]
            service = RoutingService(lambda: config, Clock(), CallSteps(stream),
                                     lambda p: p, durable=store.flush)
            session = Session(CallStoreReader(tmp_path / "calls.db"))
            await service.handle(session)  # type: ignore[arg-type]
            return session

    session = asyncio.run(main())
    assert session.on_record_when_sent is True
    assert session.sent["HOTLINE_TARGET_KIND"]


def test_a_store_that_does_not_commit_costs_the_record_not_the_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_engine_config(REPO)
    monkeypatch.setattr(routing, "DURABLE_WAIT_S", 0.05)
    stuck = asyncio.Event()

    async def never() -> None:
        await stuck.wait()

    async def broken() -> None:
        raise OSError("disk I/O error")

    for durable in (never, broken):
        service = RoutingService(lambda: config, Clock(), CallSteps(EventStream()),
                                 lambda p: p, durable=durable)
        session = Session(None)
        asyncio.run(service.handle(session))  # type: ignore[arg-type]
        assert session.sent["HOTLINE_TARGET_KIND"] == "queue"
