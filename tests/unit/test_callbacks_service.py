"""The callback service between AMI events, the store and the scheduler: entries from
abandoned callers, the durable mark before the Originate, outcomes from the dialplan's
last stage, a restart resolving a callback it was dialling, a new call cancelling."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ivr.ami.codec import AmiMessage
from ivr.callbacks.model import CallbackState
from ivr.callbacks.service import CallbackService
from ivr.callbacks.store import CallbackStore
from ivr.config.engine import EngineConfig, load_engine_config
from tests.unit.transfer_fakes import T0, FixedClock, event, message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"
NUMBER = "13800138000"


@dataclass
class Agent:
    agent_id: str
    interface: str
    state: str = "available"
    paused: bool = False
    queues: set[str] = field(default_factory=lambda: {"hl-general"})
    since: datetime | None = T0


@dataclass
class Queue:
    waiting: dict[str, datetime] = field(default_factory=dict)


@dataclass
class Metrics:
    queues: dict[str, Queue] = field(default_factory=dict)


@dataclass
class Acd:
    agents: dict[str, Agent] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)


class Ami:
    """Records actions; ``channels`` and ``db`` answer CoreShowChannels and Getvar DB()."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.channels: list[str] = []
        self.db: dict[str, str] = {}

    async def action(self, action: str, fields: dict[str, str] | None = None,
                     variables: dict[str, str] | None = None) -> AmiMessage:
        self.sent.append((action, fields or {}, variables or {}))
        if action == "Getvar":
            key = (fields or {})["Variable"].removeprefix("DB(hlcb/").rstrip(")")
            return message(Response="Success", Value=self.db.get(key, ""))
        return message(Response="Success")

    async def action_list(self, action: str,
                          fields: dict[str, str] | None = None) -> list[AmiMessage]:
        return [event("CoreShowChannel", Uniqueid=u) for u in self.channels]


class Steps:
    def __init__(self) -> None:
        self.steps: list[tuple[str, str, Mapping[str, Any]]] = []

    def append(self, call_id: str, step: str, at: datetime, **data: Any) -> None:
        self.steps.append((call_id, step, data))

    def names(self) -> list[str]:
        return [s for _, s, _ in self.steps]


@pytest.fixture
def config() -> EngineConfig:
    return load_engine_config(FIXTURES)


def service(tmp_path: Path, config: EngineConfig, acd: Acd | None = None,
            at: datetime = T0) -> tuple[CallbackService, CallbackStore, Ami, Steps]:
    store = CallbackStore(tmp_path / "callbacks.db")
    link = Ami()
    steps = Steps()
    svc = CallbackService(store, acd or Acd(), lambda: link, lambda: config, FixedClock(at),
                          steps, lambda p: f"hotline/{p}")
    return svc, store, link, steps


def abandon(hold_s: int, caller: str = NUMBER, uniqueid: str = "1.1") -> AmiMessage:
    return event("QueueCallerAbandon", Queue="hl-general", Uniqueid=uniqueid,
                 CallerIDNum=caller, HoldTime=str(hold_s))


def test_only_callers_who_waited_long_enough_get_an_entry(
        tmp_path: Path, config: EngineConfig) -> None:
    svc, store, _, steps = service(tmp_path, config)
    asyncio.run(svc.handle(abandon(9, uniqueid="1.1")))
    asyncio.run(svc.handle(abandon(10, uniqueid="1.2")))
    [entry] = store.open_entries()
    assert (entry.call_id, entry.skill, entry.reason.value) == ("1.2", "general", "abandoned")
    assert steps.steps == [("1.2", "callback_requested", {
        "callback": entry.id, "caller": "138******00", "skill": "general",
        "reason": "abandoned", "wait_s": 10})]


def test_a_free_agent_is_rung_first_and_the_entry_is_durable_before(
        tmp_path: Path, config: EngineConfig) -> None:
    acd = Acd({"pjsip/agent-1001": Agent("1001", "PJSIP/agent-1001")})
    svc, store, ami, steps = service(tmp_path, config, acd)
    asyncio.run(svc.handle(abandon(30)))
    asyncio.run(svc.round())
    [(pause, paused, _), (action, fields, variables)] = ami.sent
    assert (pause, paused) == ("QueuePause", {"Interface": "PJSIP/agent-1001",
                                              "Paused": "true", "Reason": "callback"})
    assert action == "Originate" and fields["Channel"] == "PJSIP/agent-1001"
    assert fields["Context"] == "hotline-callback" and fields["Exten"] == "caller"
    assert fields["CallerID"] == '"12345" <12345>'
    assert variables["HOTLINE_CB_AGENT"] == "PJSIP/agent-1001"
    assert variables["HOTLINE_CB_DIAL"] == f"PJSIP/{NUMBER}@carrier"
    assert variables["HOTLINE_CB_PROMPT"] == "hotline/callback-intro"
    [entry] = store.open_entries()
    assert entry.state is CallbackState.DIALLING and entry.dial_key == fields["ChannelId"]
    assert "callback_dialled" in steps.names()
    asyncio.run(svc.round())  # the agent is taken: nothing more is dialled
    assert len(ami.sent) == 2
    asyncio.run(svc.handle(event("UserEvent", UserEvent="HotlineCallbackEnded",
                                 Key=entry.dial_key or "", Stage="connected")))
    done = store.get(entry.id)
    assert (done.state, done.attempts, done.last_outcome and done.last_outcome.value) == \
        (CallbackState.CONNECTED, 1, "connected")
    assert steps.steps[-1][2]["outcome"] == "connected"


def test_a_restart_resolves_a_callback_whose_channels_are_gone(
        tmp_path: Path, config: EngineConfig) -> None:
    acd = Acd({"pjsip/agent-1001": Agent("1001", "PJSIP/agent-1001")})
    svc, store, _, _ = service(tmp_path, config, acd)
    asyncio.run(svc.handle(abandon(30)))
    asyncio.run(svc.round())
    key = store.open_entries()[0].dial_key or ""
    # a new controller: the attempt's channels are still up, then gone with the caller busy
    later, _, ami2, _ = service(tmp_path, config, Acd(), at=T0 + timedelta(minutes=1))
    ami2.channels = [key]
    asyncio.run(later.resync(ami2))
    assert store.open_entries()[0].state is CallbackState.DIALLING
    ami2.channels, ami2.db = [], {key: "caller:BUSY"}
    asyncio.run(later.resync(ami2))
    entry = store.open_entries()[0]
    assert (entry.state, entry.attempts, entry.last_outcome and entry.last_outcome.value) == \
        (CallbackState.PENDING, 1, "busy")
    assert [a for a, _, _ in ami2.sent if a == "Originate"] == []  # nothing dialled twice


def test_the_callers_new_call_cancels_the_pending_entry(
        tmp_path: Path, config: EngineConfig) -> None:
    svc, store, _, steps = service(tmp_path, config)
    asyncio.run(svc.handle(abandon(30)))
    asyncio.run(svc.handle(event("UserEvent", UserEvent="HotlinePromptsDone", CallId="2.1",
                                 Uniqueid="2.1", CallerIDNum=NUMBER)))
    assert store.open_entries() == []
    assert steps.steps[-1][1:] == ("callback_outcome", {
        "callback": 1, "caller": "138******00", "outcome": "cancelled", "state": "cancelled",
        "attempts": 0, "by": "new call 2.1"})


def test_an_agent_who_never_answered_is_unpaused_after_a_restart(
        tmp_path: Path, config: EngineConfig) -> None:
    acd = Acd({"pjsip/agent-1001": Agent("1001", "PJSIP/agent-1001")})
    svc, store, _, _ = service(tmp_path, config, acd)
    asyncio.run(svc.handle(abandon(30)))
    asyncio.run(svc.round())
    later, _, ami2, steps = service(tmp_path, config, acd, at=T0 + timedelta(minutes=1))
    asyncio.run(later.resync(ami2))  # no channel, no stage: the phone never answered
    entry = store.open_entries()[0]
    assert (entry.state, entry.attempts) == (CallbackState.PENDING, 0)
    assert ("QueuePause", {"Interface": "PJSIP/agent-1001", "Paused": "false"}, {}) in ami2.sent
    assert steps.steps[-1][2]["outcome"] == "agent_no_answer"
