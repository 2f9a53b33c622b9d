"""The ACD's pure parts: agent state machine, event tracker, penalties, generated config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_pool.asterisk_conf import render_queue_rules, render_queues
from agent_pool.skills import memberships
from agent_pool.state import AgentState, AgentStatus, IllegalAgentTransition
from agent_pool.tracker import AcdTracker
from ivr.ami.codec import AmiMessage
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.config.roster import Agent, Roster
from ivr.core.queues import expert_domains, queue_name

T0 = datetime(2022, 1, 1, 2, tzinfo=UTC)


def event(name: str, **fields: str) -> AmiMessage:
    return AmiMessage((("Event", name), *fields.items()))


@pytest.fixture
def config(mini_config: Path) -> EngineConfig:
    return load_engine_config(mini_config)


def test_logged_out_agent_cannot_go_on_a_call() -> None:
    status = AgentStatus("1001", "PJSIP/agent-1001")
    with pytest.raises(IllegalAgentTransition) as info:
        status.move(AgentState.ON_CALL, T0)
    assert "logged_out -> on_call" in str(info.value)
    status.move(AgentState.AVAILABLE, T0)
    status.move(AgentState.RINGING, T0)
    status.move(AgentState.ON_CALL, T0)
    assert status.state is AgentState.ON_CALL


def test_penalty_bands_put_the_expert_first(config: EngineConfig) -> None:
    expert = Agent(id="9", name="e", interface="PJSIP/x", skills={"expert_12333": 10})
    skilled = Agent(id="8", name="s", interface="PJSIP/y", skills={"social_security": 7})
    general = Agent(id="7", name="g", interface="PJSIP/z", skills={"general": 9})
    skills = ["general", "social_security", "expert_12333"]
    experts = expert_domains(config.catalogue)
    assert experts == {"expert_12333": "social_security"}

    def penalty(agent: Agent, skill: str) -> int | None:
        found = [m.penalty for m in memberships(agent, skills, experts)
                 if m.queue == queue_name(skill)]
        return found[0] if found else None

    assert penalty(expert, "expert_12333") == 0
    assert penalty(skilled, "expert_12333") == 13
    assert penalty(general, "expert_12333") == 21
    assert penalty(skilled, "social_security") == 3
    assert penalty(general, "social_security") == 11
    assert penalty(skilled, "general") is None


def test_generated_queues_cover_every_skill(config: EngineConfig) -> None:
    text = render_queues(config.catalogue, config.roster, config.rules.acd, "hotline/x")
    for skill in ("general", "social_security", "tax", "expert_12333"):
        assert f"[hl-{skill}](hl-template)" in text
    assert "wrapuptime = 10" in text and "periodic-announce = hotline/x" in text
    assert "penaltychange => 20,29" in render_queue_rules(config.rules.acd)


def tracker(roster: Roster, wrapup: int = 10) -> AcdTracker:
    return AcdTracker(lambda: roster, lambda: wrapup)


def test_tracker_follows_a_call_through_wrap_up(config: EngineConfig) -> None:
    acd = tracker(config.roster)
    member = {"Queue": "hl-general", "Interface": "PJSIP/agent-1001", "MemberName": "1001"}
    acd.handle(event("QueueMemberAdded", Paused="0", **member), T0)
    acd.handle(event("QueueCallerJoin", Queue="hl-general", Uniqueid="c1"), T0)
    acd.handle(event("AgentCalled", **member), T0)
    acd.handle(event("AgentConnect", HoldTime="4", Uniqueid="c1", **member), T0)
    status = acd.agents["pjsip/agent-1001"]
    assert status.state is AgentState.ON_CALL
    acd.handle(event("AgentComplete", **member), T0 + timedelta(seconds=60))
    assert status.state is AgentState.WRAP_UP
    acd.tick(T0 + timedelta(seconds=65))
    assert status.state is AgentState.WRAP_UP
    acd.tick(T0 + timedelta(seconds=71))
    assert status.state is AgentState.AVAILABLE
    snapshot = acd.snapshot(T0 + timedelta(seconds=71))
    assert snapshot["answered"] == 1 and snapshot["service_level"] == 1.0


def test_pause_during_a_call_takes_effect_after_it(config: EngineConfig) -> None:
    acd = tracker(config.roster)
    member = {"Queue": "hl-general", "Interface": "PJSIP/agent-1001"}
    acd.handle(event("QueueMemberAdded", Paused="0", **member), T0)
    acd.handle(event("AgentConnect", HoldTime="1", Uniqueid="c1", **member), T0)
    acd.handle(event("QueueMemberPause", Paused="1", PausedReason="meal", **member), T0)
    status = acd.agents["pjsip/agent-1001"]
    assert status.state is AgentState.ON_CALL
    acd.handle(event("AgentComplete", **member), T0)
    assert (status.state, status.pause_reason) == (AgentState.PAUSED, "meal")


def test_abandoned_and_slow_answers_lower_the_service_level(config: EngineConfig) -> None:
    acd = tracker(config.roster)
    for uid in ("a", "b", "c", "d"):
        acd.handle(event("QueueCallerJoin", Queue="hl-tax", Uniqueid=uid), T0)
    member = {"Queue": "hl-tax", "Interface": "PJSIP/agent-1001"}
    acd.handle(event("AgentConnect", HoldTime="5", Uniqueid="a", **member), T0)
    acd.handle(event("AgentConnect", HoldTime="40", Uniqueid="b", **member), T0)
    acd.handle(event("QueueCallerAbandon", Queue="hl-tax", Uniqueid="c"), T0)
    snapshot = acd.snapshot(T0 + timedelta(seconds=30))
    row = snapshot["queues"][0]  # type: ignore[index]
    assert (row["waiting"], row["longest_wait_s"]) == (1, 30.0)
    assert row["service_level"] == pytest.approx(1 / 3, abs=1e-3)
    assert row["abandon_rate"] == pytest.approx(1 / 3, abs=1e-3)


def test_resync_rebuilds_agents_and_waiting_callers(config: EngineConfig) -> None:
    acd = tracker(config.roster)
    listing = [
        event("QueueMember", Queue="hl-general", Location="PJSIP/agent-1001", Paused="1",
              PausedReason="break", InCall="0", Status="1"),
        event("QueueMember", Queue="hl-tax", Location="PJSIP/agent-1005", Paused="0",
              InCall="1", Status="2"),
        event("QueueEntry", Queue="hl-tax", Uniqueid="w1", Wait="12"),
        event("QueueMember", Queue="bench-static", Location="PJSIP/agent-1006"),
    ]
    acd.resync(listing, T0)
    assert acd.agents["pjsip/agent-1001"].state is AgentState.PAUSED
    assert acd.agents["pjsip/agent-1005"].state is AgentState.ON_CALL
    assert "pjsip/agent-1006" not in acd.agents
    assert acd.metrics.queue("hl-tax").longest_wait_s(T0) == 12.0
