"""Sichuan on 1 July 2021: national whole-merge lines are in transition, sub-centers
transfer, and calls diverted from 110 are taken and tagged (real calls, real Asterisk)."""

from __future__ import annotations

from pathlib import Path

from hotline_sandbox.state import SandboxState
from testkit.controller import ControllerProcess
from testkit.sipp import answering_peer
from tests.integration.conftest import answered_call

LOGIN = ("1001",)  # general agent: takes every skill when no skilled agent is free
CONTROLLER_AT = "2021-07-01T10:00:00+08:00"


def test_transition_line_hears_its_prompt_then_reaches_an_agent(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    record, _ = answered_call(sandbox, controller, traces, "12396")
    decided = record.first("decided") or {}
    assert (decided.get("mode"), decided.get("phase")) == ("whole_merge", "transition")
    assert decided.get("skill") == "science_technology"
    assert (record.first("prompts_played") or {}).get("prompts") == \
        "hotline/generated/sichuan/transition-12396"
    assert (record.first("dial_result") or {}).get("status") == "ANSWER"


def test_sub_center_number_reaches_the_sub_center(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    record, tax = answered_call(sandbox, controller, traces, "12366", answerer="subcenters")
    assert "INVITE sip:12366@127.0.0.1" in tax.messages()
    assert (record.first("decided") or {}).get("target_kind") == "subcenter"
    assert (record.first("dial") or {}).get("dial") == "PJSIP/12366@subcenters"


def test_sub_center_not_answering_falls_back_to_12345_agents(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    tax = answering_peer(sandbox.peer_ports["subcenters"], traces, scenario="agent_busy.xml")
    record, _ = answered_call(sandbox, controller, traces, "12360")
    assert tax.wait(10) == 0, tax.describe()
    statuses = [s["status"] for s in record.steps if s["step"] == "dial_result"]
    assert statuses == ["BUSY", "ANSWER"]


def test_call_diverted_from_110_is_accepted_and_tagged(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    record, _ = answered_call(sandbox, controller, traces, "110")
    decided = record.first("decided") or {}
    assert decided.get("mode") == "emergency"
    assert "diverted_from:110" in decided.get("tags", [])
    assert (record.first("prompts_played") or {}).get("prompts") == \
        "hotline/generated/diverted-emergency"
