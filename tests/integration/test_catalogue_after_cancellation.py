"""Sichuan on 20 October 2021: national whole-merge numbers are cancelled and dual-number
lines have moved to 12345 (real calls, real Asterisk)."""

from __future__ import annotations

from pathlib import Path

from hotline_sandbox.state import SandboxState
from testkit.controller import ControllerProcess
from tests.integration.conftest import answered_call

LOGIN = ("1001",)  # general agent: takes every skill when no skilled agent is free
CONTROLLER_AT = "2021-10-20T10:00:00+08:00"


def test_cancelled_line_hears_not_in_service_and_is_still_put_through(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    record, _ = answered_call(sandbox, controller, traces, "12396")
    assert (record.first("decided") or {}).get("phase") == "cancelled"
    assert (record.first("prompts_played") or {}).get("prompts") == \
        "hotline/generated/not-in-service"
    assert (record.first("dial_result") or {}).get("status") == "ANSWER"


def test_dual_number_line_reaches_its_skill(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    record, _ = answered_call(sandbox, controller, traces, "12333")
    decided = record.first("decided") or {}
    assert (decided.get("mode"), decided.get("phase")) == ("dual_number", "active")
    assert decided.get("skill") == "social_security"
