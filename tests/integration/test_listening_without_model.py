"""Without a usable speech model the controller says so at start-up, naming the path, and
every call still routes on its dialled number (12345: the general queue) without listening."""

from __future__ import annotations

from pathlib import Path

from hotline_sandbox.state import SandboxState
from testkit.controller import ControllerProcess
from tests.integration.conftest import answered_call

LOGIN = ("1008",)
MISSING = "/nonexistent/hotline12345/vosk-model-small-cn-0.22"
RULES_EDIT = (
    ("model_path: ~/.cache/hotline12345/models/vosk-model-small-cn-0.22", f"model_path: {MISSING}"),
    ("port: 9092}", "port: 19093}"),
)


def test_start_up_names_the_missing_model(controller: ControllerProcess) -> None:
    log = controller.log_tail(200_000)
    assert "speech model unusable" in log and MISSING in log
    assert "tools/fetch_vosk_model" in log


def test_calls_route_to_the_general_queue_without_listening(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    record, _ = answered_call(sandbox, controller, traces, "12345", answerer="agent-1008")
    decided = record.first("decided")
    assert decided is not None
    assert decided["listening"] is False and decided["queue"] == "hl-general"
    assert record.first("listen_dialled") is None and record.first("classified") is None
    played = record.first("prompts_played")
    assert played is not None and "greeting" in played["prompts"]
