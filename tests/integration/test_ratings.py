"""Post-call rating (好差评) with real calls: agent 1001's SIPp phone answers and hangs up
first; the caller (SIPp + an RtpParty) stays on the line, hears the rating prompt and
sends RFC 4733 DTMF, says nothing, or hangs up.  What is checked is what a supervisor
sees: ``hotline ratings`` and ``hotline followups``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from hotline_sandbox.state import SandboxState
from testkit.controller import ControllerProcess
from testkit.rtp import AGENT_HZ, CALLER_HZ, RtpParty
from testkit.sipp import SippPeer, rtp_answering_peer, rtp_call
from tests.integration.conftest import ami_env

LOGIN = ("1001",)
# Friday 26 September 2025: 5 working days later is Friday 10 October (Sunday 28 September
# is a make-up day, 1-8 October are off), with the shipped calendar in routing_rules.yaml
CONTROLLER_AT = "2025-09-26T10:00:00+08:00"
DUE = "2025-10-10"
RULES_EDIT = (("survey:\n  enabled: false\n", "survey:\n  enabled: true\n"),
              ("  timeout_s: 6 ", "  timeout_s: 3 "))
CALLER = "13800138000"
AGENT_HOLD_MS = 2000  # the agent talks 2 s, then hangs up first


class RatedCall:
    """A caller on 12345 whose call agent 1001 answers and hangs up after AGENT_HOLD_MS."""

    def __init__(self, sandbox: SandboxState, controller: ControllerProcess, traces: Path,
                 stack: ExitStack, caller_scenario: str = "rtp_caller.xml",
                 caller_hold_ms: int = 3000) -> None:
        self.controller = controller
        self.sandbox = sandbox
        agent_rtp = stack.enter_context(RtpParty(AGENT_HZ))
        self.agent = rtp_answering_peer(sandbox.peer_ports["agent-1001"], traces, agent_rtp.port,
                                        scenario="rtp_answer_hangup.xml", hold_ms=AGENT_HOLD_MS,
                                        timeout_s=120)
        before = {r.call_id for r in controller.calls.records()}
        self.rtp = stack.enter_context(RtpParty(CALLER_HZ))
        self.caller = rtp_call("12345", traces, self.rtp.port, scenario=caller_scenario,
                               caller=CALLER, hold_ms=caller_hold_ms, timeout_s=120)
        stack.callback(self._hang_up)
        self.call_id = self.controller.new_queued_call(before, timeout_s=30)

    def _hang_up(self) -> None:
        for peer in (self.caller, self.agent):
            if peer.running:
                peer.stop()

    def step(self, step: str, timeout_s: float = 30.0, **match: Any) -> dict[str, Any]:
        _, entry = self.controller.wait_for_step(step, timeout_s=timeout_s, call_id=self.call_id,
                                                 **match)
        return entry

    def survey_started(self) -> dict[str, Any]:
        """The agent hung up and the caller is being asked (the controller was asked)."""
        try:
            return self.step("survey_started", timeout_s=40)
        except TimeoutError:
            record = self.controller.calls.get(self.call_id)
            steps = [(s["step"], {k: v for k, v in s.items() if k not in ("step", "at")})
                     for s in (record.steps if record else [])]
            raise AssertionError(f"no survey for {self.call_id}: steps {steps}\n"
                                 f"agent: {self.agent.describe()}\n"
                                 f"caller: {self.caller.describe()}") from None


def hotline(controller: ControllerProcess, sandbox: SandboxState, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ivr.cli.main", *args],
        env={**os.environ, **ami_env(sandbox), "HOTLINE_RUN_DIR": str(controller.run_dir)},
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"hotline {args}: {result.stdout}{result.stderr}"
    return result.stdout


def rating_of(controller: ControllerProcess, sandbox: SandboxState, call_id: str) -> dict[str, Any]:
    listing = json.loads(hotline(controller, sandbox, "ratings", "--json", "--last", "1000"))
    [row] = [r for r in listing["ratings"] if r["call_id"] == call_id]
    return dict(row)


@pytest.fixture(scope="module", autouse=True)
def survey_dialplan(sandbox: SandboxState) -> None:
    """The sandbox must run this tree's dialplan (a sandbox started from an older checkout
    hangs the caller up with the agent): say so instead of timing out."""
    from hotline_sandbox import api

    shown = api.asterisk_cli("dialplan show s@hotline-queue")
    if "hotline-survey" not in shown:
        pytest.fail("the running sandbox's dialplan has no [hotline-survey] (started from an "
                    "older dialplans/extensions.conf.tmpl?): `tools/sandbox restart`", pytrace=False)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def finished(peer: SippPeer, timeout_s: float = 90) -> None:
    assert peer.wait(timeout_s) == 0, peer.describe()


def test_key_2_is_stored_as_satisfied(sandbox: SandboxState, controller: ControllerProcess,
                                      traces: Path, stack: ExitStack) -> None:
    call = RatedCall(sandbox, controller, traces, stack)
    started = call.survey_started()
    assert started["agent"] == "1001"
    call.rtp.send_dtmf("2")
    rated = call.step("rated", timeout_s=30)
    assert rated["outcome"] == "rated" and rated["level"] == 2
    finished(call.caller)  # thanked, then hung up by the hotline
    row = rating_of(controller, sandbox, call.call_id)
    assert (row["level"], row["label"], row["agent"], row["skill"], row["line"]) == \
        (2, "满意", "1001", "general", "12345")
    followups = json.loads(hotline(controller, sandbox, "followups", "--json"))
    assert all(f["call_id"] != call.call_id for f in followups)  # 满意 opens nothing


def test_key_5_opens_a_followup_due_in_five_working_days(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path,
        stack: ExitStack) -> None:
    call = RatedCall(sandbox, controller, traces, stack)
    call.survey_started()
    call.rtp.send_dtmf("5")
    call.step("rated", timeout_s=30, outcome="rated")
    finished(call.caller)
    row = rating_of(controller, sandbox, call.call_id)
    assert (row["level"], row["label"]) == (5, "非常不满意")
    followups = json.loads(hotline(controller, sandbox, "followups", "--json",
                                   "--today", "2025-09-26"))
    [item] = [f for f in followups if f["call_id"] == call.call_id]
    assert item["due"] == DUE and item["status"] == "open" and item["overdue"] is False
    assert item["group"] == "1101"  # 周敏 supervises the general skill (agents.yaml)
    assert item["caller_masked"] == "138******00"
    listing = hotline(controller, sandbox, "followups", "--today", "2025-10-13")
    assert item["id"] in listing and "OVERDUE" in listing and CALLER not in listing
    done = hotline(controller, sandbox, "followups", "done", item["id"], "--note", "已回访，问题已解决")
    assert item["id"] in done
    assert all(f["id"] != item["id"] for f in json.loads(hotline(controller, sandbox, "followups",
                                                                 "--json")))


def test_no_input_twice_is_not_rated(sandbox: SandboxState, controller: ControllerProcess,
                                     traces: Path, stack: ExitStack) -> None:
    call = RatedCall(sandbox, controller, traces, stack)
    call.survey_started()
    rated = call.step("rated", timeout_s=90)  # the prompt, 3 s, the re-prompt, 3 s
    assert rated["outcome"] == "no_input" and rated["level"] is None and rated["tries"] == 2
    finished(call.caller)
    row = rating_of(controller, sandbox, call.call_id)
    assert (row["level"], row["label"], row["outcome"]) == (None, "未评价", "no_input")


def test_hanging_up_during_the_prompt_is_not_rated(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path,
        stack: ExitStack) -> None:
    # the caller hangs up 14 s after the answer: after the greeting, the queue and the
    # agent's 2 s, inside the first prompt (about 11 s long) or its 3 s wait
    call = RatedCall(sandbox, controller, traces, stack, caller_scenario="rtp_caller_hangup.xml",
                     caller_hold_ms=14_000)
    call.survey_started()
    finished(call.caller)
    rated = call.step("rated", timeout_s=30)
    assert rated["outcome"] == "hangup" and rated["level"] is None
    row = rating_of(controller, sandbox, call.call_id)
    assert (row["label"], row["outcome"]) == ("未评价", "hangup")


def test_satisfaction_for_the_period(sandbox: SandboxState, controller: ControllerProcess) -> None:
    """After the calls above: one 满意, one 非常不满意, two not rated."""
    summary = json.loads(hotline(controller, sandbox, "ratings", "--json", "--period", "2025-09",
                                 "--agent", "1001"))
    total = summary["total"]
    assert total["surveyed"] >= 4 and total["rated"] >= 2
    assert total["distribution"]["满意"] >= 1 and total["distribution"]["非常不满意"] >= 1
    text = hotline(controller, sandbox, "ratings", "--period", "2025-09", "--last", "0")
    assert "BY AGENT" in text and "BY SKILL" in text and "BY LINE" in text
