"""Transfers with real calls: caller, 12345 agent and sub-center (or emergency service)
are three SIPp parties, each with an RTP endpoint sending its own tone, so the tests hear
who is talking with whom (testkit/rtp.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hotline_sandbox.state import SandboxState
from testkit.controller import ControllerProcess
from testkit.rtp import AGENT_HZ, CALLER_HZ, SUBCENTER_HZ, RtpParty
from testkit.sipp import SippPeer, answering_peer, rtp_answering_peer, rtp_call
from tests.integration.conftest import ami_env

LOGIN = ("1001",)
# shorter ring times so the no-answer cases take seconds, not the production 20 s
RULES_EDIT = (("  subcenter_answer_s: 20 ", "  subcenter_answer_s: 6 "),
              ("  emergency_answer_s: 20", "  emergency_answer_s: 6"))
LISTEN_S = 1.2  # how long each "who hears whom" check listens


@dataclass
class Party:
    """One SIP party: its SIPp process and the RTP endpoint its SDP points at."""

    sipp: SippPeer
    rtp: RtpParty


class Call:
    """A caller on 12345 talking with agent 1001, ready to be transferred."""

    def __init__(self, sandbox: SandboxState, controller: ControllerProcess, traces: Path,
                 stack: ExitStack, agent_scenario: str = "rtp_answer.xml") -> None:
        self.sandbox = sandbox
        self.controller = controller
        self.traces = traces
        self.stack = stack
        self.parties: list[Party] = []
        stack.callback(self.hang_up_everything)
        self.agent = self.answering("agent-1001", AGENT_HZ, agent_scenario, 60_000)
        before = {r.call_id for r in controller.calls.records()}
        caller_rtp = stack.enter_context(RtpParty(CALLER_HZ))
        self.caller = Party(rtp_call("12345", traces, caller_rtp.port, timeout_s=90), caller_rtp)
        self.parties.append(self.caller)
        self.call_id = self.controller.new_queued_call(before, timeout_s=20)
        assert self.agent.rtp.wait_for_tone(CALLER_HZ, timeout_s=15), "agent never heard the caller"


    def hang_up_everything(self) -> None:
        """End whatever the test left up, so the next test starts clean."""
        from hotline_sandbox import api

        api.asterisk_cli("channel request hangup all")
        time.sleep(0.5)
        for party in self.parties:
            party.sipp.stop()

    def answering(self, peer: str, tone: float, scenario: str, hold_ms: int) -> Party:
        rtp = self.stack.enter_context(RtpParty(tone))
        sipp = rtp_answering_peer(self.sandbox.peer_ports[peer], self.traces, rtp.port,
                                  scenario=scenario, hold_ms=hold_ms, timeout_s=90)
        party = Party(sipp, rtp)
        self.parties.append(party)
        return party

    def hotline(self, *args: str, ok: bool = True) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "ivr.cli.main", *args],
            env={**os.environ, **ami_env(self.sandbox), "HOTLINE_RUN_DIR": str(self.controller.run_dir)},
            capture_output=True, text=True, timeout=30)
        assert (result.returncode == 0) == ok, f"hotline {args}: {result.stdout}{result.stderr}"
        return result.stdout + result.stderr

    def step(self, step: str, timeout_s: float = 20.0, **match: Any) -> dict[str, Any]:
        _, entry = self.controller.wait_for_step(step, timeout_s=timeout_s, call_id=self.call_id,
                                                 **match)
        return entry

    def steps(self) -> list[str]:
        record = self.controller.calls.get(self.call_id)
        return [s["step"] for s in record.steps] if record else []


def hears(listener: Party, tone: float, since: float) -> bool:
    """Whether ``listener`` heard ``tone`` in the last LISTEN_S seconds since ``since``."""
    return listener.rtp.hears(tone, since=since)


def listen() -> float:
    start = time.monotonic()
    time.sleep(LISTEN_S)
    return start


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def test_three_way_bridges_all_three_then_the_agent_leaves(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, stack: ExitStack) -> None:
    call = Call(sandbox, controller, traces, stack)
    sub = call.answering("subcenters", SUBCENTER_HZ, "rtp_answer_hangup.xml", 9000)
    out = call.hotline("transfer", "start", call.call_id, "12366", "--summary", "企业所得税汇算清缴咨询")
    assert "subcenter-12366" in out
    call.step("transfer_answered")
    since = listen()
    # all three in one conversation: each hears both others, and not itself
    assert hears(call.caller, AGENT_HZ, since) and hears(call.caller, SUBCENTER_HZ, since)
    assert hears(call.agent, CALLER_HZ, since) and hears(call.agent, SUBCENTER_HZ, since)
    assert hears(sub, CALLER_HZ, since) and hears(sub, AGENT_HZ, since)
    assert not hears(call.caller, CALLER_HZ, since)

    call.hotline("transfer", "leave", call.call_id)
    call.step("transfer_agent_left")
    assert call.agent.sipp.wait(10) == 0, call.agent.sipp.describe()  # the agent got a BYE
    time.sleep(0.3)
    since = listen()
    assert hears(call.caller, SUBCENTER_HZ, since) and hears(sub, CALLER_HZ, since)
    assert not hears(call.caller, AGENT_HZ, since) and not hears(sub, AGENT_HZ, since)

    # the sub-center ends the call; the caller is hung up cleanly
    assert sub.sipp.wait(20) == 0, sub.sipp.describe()
    assert call.caller.sipp.wait(20) == 0, call.caller.sipp.describe()
    shown = call.hotline("transfer", "show", call.call_id)
    for step in ("transfer_requested", "transfer_dialling", "transfer_ringing",
                 "transfer_answered", "transfer_agent_left"):
        assert step in shown, shown
    assert "queued" not in call.steps()[call.steps().index("transfer_requested"):]


def test_no_answer_returns_the_caller_to_the_agent_and_writes_a_work_order(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, stack: ExitStack) -> None:
    call = Call(sandbox, controller, traces, stack)
    nobody = answering_peer(sandbox.peer_ports["subcenters"], traces, scenario="agent_no_answer.xml",
                            timeout_s=60)
    call.hotline("transfer", "start", call.call_id, "12366", "--summary", "发票遗失补办")
    call.step("transfer_hold")
    since = listen()
    # on hold: the caller hears the hold prompt, not the agent
    assert not hears(call.caller, AGENT_HZ, since)
    failed = call.step("transfer_failed", timeout_s=20)
    assert failed["outcome"] == "no_answer" and failed["workorder"]
    call.step("transfer_returned", to="agent")
    time.sleep(0.5)
    since = listen()
    assert hears(call.caller, AGENT_HZ, since) and hears(call.agent, CALLER_HZ, since)
    assert nobody.wait(10) == 0, nobody.describe()  # rang, then CANCEL

    orders = json.loads(call.hotline("workorder", "list", "--call", call.call_id, "--json"))
    assert len(orders) == 1
    order = orders[0]
    assert order["id"] == failed["workorder"]
    assert (order["target"], order["reason"], order["status"]) == ("subcenter-12366", "no_answer", "open")
    assert order["summary"] == "发票遗失补办" and order["line"] == "12345"
    assert order["caller_masked"] and "13800138000" not in json.dumps(order)
    shown = call.hotline("workorder", "show", order["id"])
    assert "发票遗失补办" in shown


def test_one_key_emergency_transfer_from_the_agent_phone_uses_the_backup_trunk(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, stack: ExitStack) -> None:
    call = Call(sandbox, controller, traces, stack)
    # the first emergency trunk is down (nothing listens); the backup answers
    police = call.answering("emergency-backup", SUBCENTER_HZ, "rtp_answer_hangup.xml", 6000)
    call.agent.rtp.send_dtmf("*91")
    call.step("transfer_requested", target="110")
    since = listen()
    # the agent stays with the caller while 110 rings: no hold, no queue
    assert hears(call.caller, AGENT_HZ, since)
    call.step("transfer_answered", timeout_s=30)
    attempts = [s for s in controller.calls.get(call.call_id).steps  # type: ignore[union-attr]
                if s["step"] == "transfer_attempt"]
    assert attempts[0]["attempt"] == "primary" and attempts[0]["outcome"] != "answered"
    since = listen()
    assert hears(call.caller, SUBCENTER_HZ, since) and hears(police, CALLER_HZ, since)
    assert hears(police, AGENT_HZ, since)
    after = call.steps()[call.steps().index("transfer_requested"):]
    assert "queued" not in after
    assert police.sipp.wait(20) == 0, police.sipp.describe()


def test_controller_restart_during_a_three_way_call_drops_nobody(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, stack: ExitStack) -> None:
    call = Call(sandbox, controller, traces, stack)
    sub = call.answering("subcenters", SUBCENTER_HZ, "rtp_answer_hangup.xml", 10000)
    call.hotline("transfer", "start", call.call_id, "12366")
    call.step("transfer_answered")
    controller.kill()
    since = listen()
    assert hears(call.caller, AGENT_HZ, since) and hears(call.caller, SUBCENTER_HZ, since)
    controller.start()
    since = listen()
    assert hears(call.caller, AGENT_HZ, since) and hears(sub, CALLER_HZ, since)
    # the new controller still knows the transfer (from the call record): the agent leaves
    call.hotline("transfer", "leave", call.call_id)
    call.step("transfer_agent_left")
    assert call.agent.sipp.wait(10) == 0, call.agent.sipp.describe()
    assert sub.sipp.wait(20) == 0, sub.sipp.describe()
    assert call.caller.sipp.wait(20) == 0, call.caller.sipp.describe()


def test_blind_transfer_releases_the_agent_and_connects_the_caller(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, stack: ExitStack) -> None:
    call = Call(sandbox, controller, traces, stack)
    sub = call.answering("subcenters", SUBCENTER_HZ, "rtp_answer_hangup.xml", 5000)
    call.hotline("transfer", "start", call.call_id, "subcenter-12366", "--blind")
    assert call.agent.sipp.wait(10) == 0, call.agent.sipp.describe()  # released at once
    call.step("transfer_answered")
    time.sleep(0.3)
    since = listen()
    assert hears(call.caller, SUBCENTER_HZ, since) and hears(sub, CALLER_HZ, since)
    assert not hears(call.caller, AGENT_HZ, since)
    assert sub.sipp.wait(20) == 0, sub.sipp.describe()
    assert call.caller.sipp.wait(20) == 0, call.caller.sipp.describe()
    assert "blind) ended answered" in call.hotline("transfer", "list")
    assert "state=handed_over" in call.hotline("transfer", "show", call.call_id)


def test_cancel_while_ringing_returns_the_caller_and_writes_no_work_order(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, stack: ExitStack) -> None:
    call = Call(sandbox, controller, traces, stack)
    nobody = answering_peer(sandbox.peer_ports["subcenters"], traces, scenario="agent_no_answer.xml",
                            timeout_s=60)
    call.hotline("transfer", "start", call.call_id, "12366")
    call.step("transfer_ringing")
    call.hotline("transfer", "cancel", call.call_id)
    call.step("transfer_cancelled")
    assert nobody.wait(10) == 0, nobody.describe()  # the sub-center saw a CANCEL
    time.sleep(0.5)
    since = listen()
    assert hears(call.caller, AGENT_HZ, since) and hears(call.agent, CALLER_HZ, since)
    time.sleep(7)  # past the ring time: still no failure, no work order
    assert "transfer_failed" not in call.steps()
    assert json.loads(call.hotline("workorder", "list", "--call", call.call_id, "--json")) == []
