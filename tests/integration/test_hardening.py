"""Hardening against the real sandbox: a forged FastAGI peer is refused while Asterisk's
own calls still route, a forged agent request from an allowed address changes nothing,
and ``hotline run`` refuses a planted run-directory symlink."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from hotline_sandbox.state import SandboxState
from testkit.controller import ControllerProcess
from tests.integration.conftest import REPO, ami_env, answered_call

LOGIN = ("1001",)

FORGED = (b"agi_network: yes\nagi_network_script: agent\n"
          b"agi_request: agi://127.0.0.1:4573/agent\nagi_channel: PJSIP/agent-1001-0000ffff\n"
          b"agi_uniqueid: 1.1\nagi_arg_1: logout\n\n")


def _forge(port: int, local: str, data: bytes = FORGED) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(local, 0)) as sock:
        try:
            sock.sendall(data)
            received = b""
            while chunk := sock.recv(4096):
                received += chunk
                if b"\n" in received:
                    sock.sendall(b"200 result=1\n")
            return received
        except ConnectionResetError:
            return b""


def _wait_log(controller: ControllerProcess, text: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in controller.log_tail(200_000):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the controller log:\n{controller.log_tail()}")


def test_a_forged_fastagi_peer_is_refused_and_real_calls_still_route(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path) -> None:
    # another local process on another loopback address: closed before anything is read
    assert _forge(controller.agi_port, "127.0.0.2") == b""
    _wait_log(controller, "FastAGI connection from 127.0.0.2 refused: not on the allow-list")
    # from an allowed address, a request naming a channel Asterisk does not confirm
    assert b"HOTLINE_AGENT_RESULT" in _forge(controller.agi_port, "127.0.0.1")
    _wait_log(controller, "Asterisk does not confirm the requesting channel")
    # a duplicated key: refused with its reason
    assert _forge(controller.agi_port, "127.0.0.1",
                  FORGED.replace(b"\n\n", b"\nagi_channel: PJSIP/agent-1002-00000001\n\n")) == b""
    _wait_log(controller, "duplicate AGI environment key 'agi_channel'")
    # agent 1001 is still logged in: Asterisk's own call reaches her
    record, _peer = answered_call(sandbox, controller, traces, "12345")
    assert record.first("decided") is not None


def test_hotline_run_refuses_a_planted_run_directory_symlink(
        sandbox: SandboxState, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (victim / "keep").write_text("keep")
    planted = tmp_path / "run"
    planted.symlink_to(victim)
    result = subprocess.run(
        [sys.executable, "-m", "ivr.cli.main", "run", "--config", str(REPO), "--agi-port", "4599",
         "--ami-from-sandbox"],
        env={**os.environ, **ami_env(sandbox), "HOTLINE_RUN_DIR": str(planted)},
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert "symbolic link" in result.stderr and "refusing run directory" in result.stderr
    assert sorted(p.name for p in victim.iterdir()) == ["keep"]
