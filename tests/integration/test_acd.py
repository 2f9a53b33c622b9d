"""The ACD with real calls: skill routing, longest idle, wrap-up, expert seats that widen,
ring-timeout retry, pause, priority, a controller killed mid-queue, and the callback
offer when nobody is logged in.  Chenzhou's plan (expert seat on 12333), mid-2022."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hotline_sandbox.state import SandboxState
from ivr.core.callstore import CallRecord
from testkit.controller import ControllerProcess
from testkit.sipp import SippPeer, answering_peer, place_call
from tests.integration.conftest import ami_env, hotline

CONFIG_REGION = "chenzhou"
CONTROLLER_AT = "2022-06-01T10:00:00+08:00"
TEST_ROSTER = """
version: 1
agents:
  - {id: "2001", name: 甲, interface: PJSIP/agent-1001, skills: {general: 9}}
  - {id: "2002", name: 乙, interface: PJSIP/agent-1002, skills: {general: 8}}
  - {id: "2003", name: 丙, interface: PJSIP/agent-1003, skills: {general: 8}}
  - {id: "2004", name: 丁, interface: PJSIP/agent-1004, skills: {general: 5, environment: 9}}
  - {id: "2005", name: 戊, interface: PJSIP/agent-1005, skills: {social_security: 9, expert_12333: 10}}
  - {id: "2006", name: 己, interface: PJSIP/agent-1006, skills: {social_security: 7}}
"""


@pytest.fixture
def login(sandbox: SandboxState, controller: ControllerProcess) -> Iterator[object]:
    """``login("2001", "2002")`` for one test; everyone is logged out afterwards."""
    ids: list[str] = []

    def _login(*agents: str) -> None:
        ids.extend(agents)
        hotline(sandbox, controller.config_dir, "agent", "login", *agents)

    yield _login
    if ids:
        hotline(sandbox, controller.config_dir, "agent", "logout", *ids)


def phone(sandbox: SandboxState, traces: Path, agent: str, scenario: str = "agent_answer_hangup.xml",
          calls: int = 1, hold_ms: int = 1000, timeout_s: int = 90) -> SippPeer:
    return answering_peer(sandbox.peer_ports[f"agent-{agent}"], traces, scenario=scenario,
                          calls=calls, hold_ms=hold_ms, timeout_s=timeout_s, name=f"agent-{agent}")


def rang(peer: SippPeer) -> int:
    """How many INVITEs the phone received."""
    peer.stop()
    return peer.messages().count("INVITE sip:")


def calls_to(controller: ControllerProcess, number: str) -> list[CallRecord]:
    return [r for r in controller.calls.records()
            if (r.first("decided") or {}).get("number") == number]


def wait_queued(controller: ControllerProcess, number: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while sum(1 for r in calls_to(controller, number) if r.first("queued")) < count:
        assert time.monotonic() < deadline, controller.log_tail()
        time.sleep(0.1)


def ring_dest(record: CallRecord) -> str:
    ringing = record.first("ringing")
    assert ringing is not None, record.steps
    return str(ringing["dest"]).rsplit("-", 1)[0]


def test_skilled_agent_rings_before_a_better_general_agent(
        sandbox: SandboxState, controller: ControllerProcess, login: object, traces: Path) -> None:
    login("2001", "2004")  # type: ignore[operator]
    general = phone(sandbox, traces, "1001", scenario="agent_no_answer.xml")
    skilled = phone(sandbox, traces, "1004")
    caller = place_call("12369", traces, caller="13800000101")  # 环境保护 12369, dual number
    assert caller.wait(60) == 0, caller.describe()
    assert skilled.wait(10) == 0, skilled.describe()
    assert rang(general) == 0
    record = calls_to(controller, "12369")[-1]
    assert (record.first("queued") or {}).get("queue") == "hl-environment"


def test_wrapup_then_longest_idle(
        sandbox: SandboxState, controller: ControllerProcess, login: object, traces: Path) -> None:
    login("2002", "2003")  # type: ignore[operator]
    a = phone(sandbox, traces, "1002", calls=2)
    b = phone(sandbox, traces, "1003", calls=2)
    first = place_call("12345", traces, caller="13800000201", name="first")
    assert first.wait(60) == 0, first.describe()
    # The agent who just hung up is in wrap-up: the next call goes to the other one.
    second = place_call("12345", traces, caller="13800000202", name="second")
    assert second.wait(60) == 0, second.describe()
    time.sleep(11)  # both wrap-ups (10 s) over: the one idle longest rings first
    third = place_call("12345", traces, caller="13800000203", name="third")
    assert third.wait(60) == 0, third.describe()
    records = calls_to(controller, "12345")[-3:]
    dests = [ring_dest(r) for r in records]
    assert dests[0] != dests[1], dests
    assert dests[2] == dests[0], dests
    a.stop()
    b.stop()


def test_expert_seat_takes_its_line_first(
        sandbox: SandboxState, controller: ControllerProcess, login: object, traces: Path) -> None:
    login("2001", "2005", "2006")  # type: ignore[operator]
    expert = phone(sandbox, traces, "1005")
    others = [phone(sandbox, traces, a, scenario="agent_no_answer.xml") for a in ("1001", "1006")]
    caller = place_call("12333", traces, caller="13800000301")
    assert caller.wait(60) == 0, caller.describe()
    assert expert.wait(10) == 0, expert.describe()
    assert [rang(p) for p in others] == [0, 0]
    record = calls_to(controller, "12333")[-1]
    assert (record.first("decided") or {}).get("target_kind") == "expert"


def test_expert_call_widens_to_skill_agents_after_the_wait(
        sandbox: SandboxState, controller: ControllerProcess, login: object, traces: Path) -> None:
    login("2001", "2006")  # type: ignore[operator]  # the expert is not logged in
    skilled = phone(sandbox, traces, "1006")
    caller = place_call("12333", traces, caller="13800000302", timeout_s=90)
    assert caller.wait(90) == 0, caller.describe()
    assert skilled.wait(10) == 0, skilled.describe()
    record = calls_to(controller, "12333")[-1]
    queued = datetime.fromisoformat(str((record.first("queued") or {})["at"]))
    ringing = datetime.fromisoformat(str((record.first("ringing") or {})["at"]))
    assert ring_dest(record) == "PJSIP/agent-1006"  # social security before general agents
    assert (ringing - queued).total_seconds() >= 19  # acd.widen.expert_after_s = 20


def test_unanswered_agent_is_paused_and_the_next_one_rings(
        sandbox: SandboxState, controller: ControllerProcess, login: object, traces: Path) -> None:
    login("2001", "2002")  # type: ignore[operator]
    absent = phone(sandbox, traces, "1001", scenario="agent_no_answer.xml")
    present = phone(sandbox, traces, "1002")
    caller = place_call("12345", traces, caller="13800000401", timeout_s=90)
    assert caller.wait(90) == 0, caller.describe()
    assert present.wait(10) == 0, present.describe()
    assert absent.wait(10) == 0, absent.describe()
    assert "CANCEL sip:" in absent.messages()
    listing = json.loads(hotline(sandbox, controller.config_dir, "agent", "list", "--json"))
    states = {row["agent"]: row["state"] for row in listing}
    assert states["2001"] == "paused"
    assert states["2002"] in ("wrap_up", "available", "on_call")


def test_paused_agent_is_skipped(
        sandbox: SandboxState, controller: ControllerProcess, login: object, traces: Path) -> None:
    login("2001", "2002")  # type: ignore[operator]
    hotline(sandbox, controller.config_dir, "agent", "pause", "2001", "--reason", "2")
    paused = phone(sandbox, traces, "1001", scenario="agent_no_answer.xml")
    other = phone(sandbox, traces, "1002")
    caller = place_call("12345", traces, caller="13800000501")
    assert caller.wait(60) == 0, caller.describe()
    assert other.wait(10) == 0, other.describe()
    assert rang(paused) == 0
    listing = json.loads(hotline(sandbox, controller.config_dir, "agent", "list", "--json"))
    assert {r["agent"]: r["pause_reason"] for r in listing}["2001"] == "meal"


def test_diverted_emergency_call_jumps_the_queue(
        sandbox: SandboxState, controller: ControllerProcess, login: object, traces: Path) -> None:
    login("2002")  # type: ignore[operator]
    agent = phone(sandbox, traces, "1002", calls=3, hold_ms=15000, timeout_s=150)
    busy = place_call("12345", traces, caller="13800000601", name="busy", timeout_s=150)
    wait_queued(controller, "12345", 1)
    time.sleep(6)  # the agent is talking to the first caller now
    normal = place_call("12345", traces, caller="13800000602", name="normal", timeout_s=150)
    wait_queued(controller, "12345", 2)
    diverted = place_call("110", traces, caller="13800000603", name="diverted", timeout_s=150)
    wait_queued(controller, "110", 1)
    for peer in (busy, normal, diverted):
        assert peer.wait(150) == 0, peer.describe()
    assert agent.wait(10) == 0, agent.describe()
    order = [line.split("<sip:")[1].split("@")[0] for line in agent.messages().splitlines()
             if line.startswith("From:") and "13800000" in line]
    callers = list(dict.fromkeys(order))
    assert callers == ["13800000601", "13800000603", "13800000602"], callers


def test_controller_killed_mid_queue_every_caller_is_answered(
        sandbox: SandboxState, controller: ControllerProcess, login: object, traces: Path) -> None:
    login("2002")  # type: ignore[operator]
    agent = phone(sandbox, traces, "1002", calls=3, hold_ms=2000, timeout_s=120)
    callers = [place_call("12345", traces, caller=f"1380000070{i}", name=f"c{i}", timeout_s=120)
               for i in range(3)]
    wait_queued(controller, "12345", 3)
    controller.kill()
    time.sleep(2)
    controller.start()
    for peer in callers:
        assert peer.wait(120) == 0, peer.describe()
    agent.stop()
    served = calls_to(controller, "12345")[-3:]
    assert [(ring_dest(r), (r.first("dial_result") or {}).get("status")) for r in served] == \
        [("PJSIP/agent-1002", "ANSWER")] * 3
    assert "AMI resync" in controller.log_tail(100000)


def test_nobody_logged_in_offers_a_callback(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    caller = place_call("12345", traces, caller="13800000801")
    assert caller.wait(60) == 0, caller.describe()  # Asterisk hung up after the prompt
    record = controller.wait_for_step("callback_requested")[0]
    assert (record.first("queue_result") or {}).get("status") == "JOINEMPTY"
    out = subprocess.run([sys.executable, "-m", "ivr.cli.main", "callbacks", "--json"],
                         env={**os.environ, **ami_env(sandbox),
                              "HOTLINE_RUN_DIR": str(controller.run_dir)},
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert any(r["caller"] == "138******01" and r["call_id"] == record.call_id
               for r in rows), rows


def test_feature_codes_on_the_agent_phone(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    def dial(code: str) -> None:
        # The agent's own phone dials the code: PJSIP identifies it by its user name.
        peer = place_call(code, traces, caller="agent-1003", name=f"code-{code.strip('*')}")
        assert peer.wait(30) == 0, peer.describe()

    def state() -> tuple[str, str]:
        rows = json.loads(hotline(sandbox, controller.config_dir, "agent", "list", "--json"))
        row = next(r for r in rows if r["agent"] == "2003")
        return row["state"], row["pause_reason"]

    dial("*71")
    assert state() == ("available", "")
    dial("*733")
    assert state() == ("paused", "training")
    dial("*74")
    assert state() == ("available", "")
    dial("*72")
    assert state() == ("logged_out", "")
    assert "agent PJSIP/agent-1003: login" in controller.log_tail(100000)
