"""The agent desk shows what listening heard: a caller speaks (recorded audio from a pcap,
as in test_listening.py), the real Vosk engine (the Korean model in keyword-spotting mode)
classifies the call as tax, and the tax agent's desk, in headless chromium, shows the
classification and the transcript.  A module of its own: listening on changes the whole
controller's configuration."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hotline_sandbox.state import SandboxState
from testkit.controller import ControllerProcess
from testkit.models import korean_listening_edits
from testkit.sipp import answering_peer, speech_call
from tests.integration import test_web_browser as web
from tests.integration.conftest import hotline
from tests.integration.test_listening import MODEL, TAX_REQUEST, say
from tests.integration.test_web_browser import browsers  # noqa: F401 - the fixture

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

assert MODEL is not None  # test_listening fails (CI) or skips the import without it
LOGIN = ("1007", "1008")  # 1007: tax 5, general 4; 1008: general 9
RULES_EDIT = (*korean_listening_edits(MODEL, 19093), *web.RULES_EDIT,
              ("  wrapup_s: 10 ", "  wrapup_s: 0 "))


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ko-speech")


def test_the_desk_shows_the_speech_classification_of_the_call(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, voice: Path,
        browsers: Callable[[], WebDriver]) -> None:  # noqa: F811
    web.web_up(controller)
    desk = browsers()
    web.log_in(desk, "1007", web.passwords(controller)["1007"])
    web.wait_for(lambda: desk.current_url.endswith("/desk"), 5, lambda: desk.current_url)
    hotline(sandbox, controller.config_dir, "agent", "pause", "1008")  # 1007 takes it
    try:
        time.sleep(1.0)  # the pause reaches app_queue before the call queues
        phone = answering_peer(sandbox.peer_ports["agent-1007"], traces,
                               scenario="agent_answer_hangup.xml", hold_ms=3000, timeout_s=90)
        caller = speech_call("12345", traces, say(TAX_REQUEST, voice, 500), timeout_s=90)
        shown = web.wait_for(lambda: "tax" in web.text_of(desk, "classification")
                             and web.text_of(desk, "classification"), 60,
                             lambda: web.text_of(desk, "call") + controller.log_tail())
        web.screenshot(desk, "desk-classification.png")
        record, classified = controller.wait_for_step("classified", timeout_s=10)
        heard = classified["classification"]
        assert heard["domain"] == "tax" and heard["domain"] in shown
        assert heard["request_type"] is None or heard["request_type"] in shown
        assert "안녕하세요" in web.text_of(desk, "transcript")
        decided = record.first("decided") or {}
        assert web.text_of(desk, "caller") == decided["caller"] and "*" in decided["caller"]
        assert caller.wait(90) == 0, caller.describe()
        assert phone.wait(10) == 0, phone.describe()
    finally:
        hotline(sandbox, controller.config_dir, "agent", "resume", *LOGIN)
