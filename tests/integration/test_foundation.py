"""Real calls through the sandbox Asterisk: 12345 answered, greeting played, agent rings,
fallback when the controller is away, and recovery after an Asterisk restart."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from hotline_sandbox.state import SandboxState
from testkit.controller import ControllerProcess
from testkit.sipp import answering_peer, place_call

CALLER = "13812345678"
LOGIN = ("1001",)  # 王芳: general 8, social security 6


def test_12345_greeting_then_agent(sandbox: SandboxState, controller: ControllerProcess,
                                   traces: Path) -> None:
    agent = answering_peer(sandbox.peer_ports["agent-1001"], traces,
                           scenario="agent_answer_hangup.xml", hold_ms=1000)
    caller = place_call("12345", traces, caller=CALLER)
    assert caller.wait(40) == 0, caller.describe()
    assert agent.wait(10) == 0, agent.describe()

    record = controller.call_for("12345")
    decided = record.first("decided")
    assert decided is not None
    assert (decided["mode"], decided["phase"], decided["target_kind"]) == ("main", "active", "queue")
    played = record.first("prompts_played")
    assert played is not None and played["prompts"] == "hotline/generated/greeting"
    queued = record.first("queued")
    assert queued is not None and queued["queue"] == "hl-general"
    ringing = record.first("ringing")
    assert ringing is not None and ringing["dest"].startswith("PJSIP/agent-1001-")
    result = record.first("dial_result")
    assert result is not None and result["status"] == "ANSWER"
    # The agent phone really rang and answered: SIPp saw the INVITE and sent 180 and 200.
    assert "SIP/2.0 180 Ringing" in agent.messages() and "SIP/2.0 200 OK" in agent.messages()
    # Caller numbers are masked in the controller's log and journal.
    assert CALLER not in controller.log_tail(100000)
    assert decided["caller"] == "138******78"


def test_controller_down_still_reaches_fallback_desk(sandbox: SandboxState,
                                                     controller: ControllerProcess,
                                                     traces: Path) -> None:
    controller.kill()
    try:
        desk = answering_peer(sandbox.peer_ports["fallback-desk"], traces,
                              scenario="agent_answer_hangup.xml", hold_ms=500)
        caller = place_call("12345", traces, caller=CALLER)
        assert caller.wait(30) == 0, caller.describe()
        assert desk.wait(10) == 0, desk.describe()
        assert "INVITE sip:" in desk.messages()
    finally:
        controller.start()


def _agi_that_dies_mid_call(port: int, stop: threading.Event) -> None:
    """An AGI peer that reads the environment, then drops the connection (a crash)."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                data = b""
                while b"\n\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk


def test_controller_crash_mid_decision_reaches_fallback(sandbox: SandboxState,
                                                        controller: ControllerProcess,
                                                        traces: Path) -> None:
    controller.stop()
    stop = threading.Event()
    thread = threading.Thread(target=_agi_that_dies_mid_call, args=(4573, stop), daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        desk = answering_peer(sandbox.peer_ports["fallback-desk"], traces,
                              scenario="agent_answer_hangup.xml", hold_ms=500)
        caller = place_call("12345", traces, caller=CALLER)
        assert caller.wait(30) == 0, caller.describe()
        assert desk.wait(10) == 0, desk.describe()
    finally:
        stop.set()
        thread.join()
        controller.start()


def test_controller_survives_asterisk_restart(sandbox: SandboxState,
                                              controller: ControllerProcess,
                                              traces: Path) -> None:
    from hotline_sandbox import api

    connects_before = controller.log_tail(1_000_000).count("AMI connected")
    api.restart_asterisk()
    deadline = time.monotonic() + 30
    while controller.log_tail(1_000_000).count("AMI connected") <= connects_before:
        assert time.monotonic() < deadline, controller.log_tail()
        time.sleep(0.1)
    agent = answering_peer(sandbox.peer_ports["agent-1001"], traces,
                           scenario="agent_answer_hangup.xml", hold_ms=500)
    caller = place_call("12345", traces, caller="13900001111")
    assert caller.wait(40) == 0, caller.describe()
    assert agent.wait(10) == 0, agent.describe()
    record = controller.call_for("12345")
    assert record.first("decided")["caller"] == "139******11"  # type: ignore[index]
