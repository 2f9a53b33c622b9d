"""A running controller survives broken configuration edits: an agents.yaml saved in GBK
(Notepad's default on a Chinese desktop), an alias bomb and a syntax error in
routing_rules.yaml are each rejected with ``file:line`` in the log, the controller keeps
its last good configuration and keeps routing real calls exactly as before, and restoring
the file reloads it. Real Asterisk and SIPp; the reloads are the 2 s mtime poll's."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline_sandbox.state import SandboxState
from testkit.config import edited_config
from testkit.controller import ControllerProcess
from testkit.sipp import answering_peer, place_call
from tests.integration.conftest import REPO, hotline, logout_everyone, start_controller

CALLER = "13812345678"
AGENT = "1001"  # 王芳: general 8, social security 6


@pytest.fixture(scope="module")
def reloading(sandbox: SandboxState,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    """A controller on an editable copy of the shipped configuration, 1001 logged in.

    The controller's own wrap-up tracking is off for back-to-back calls; Asterisk's
    wrapuptime (the sandbox's queues.conf) is waited out by :func:`agent_ready`."""
    tmp = tmp_path_factory.mktemp("reload_resilience")
    config_dir = edited_config(REPO, tmp / "config", (("  wrapup_s: 10 ", "  wrapup_s: 0 "),))
    logout_everyone(sandbox, config_dir)
    hotline(sandbox, config_dir, "agent", "login", AGENT)
    proc = start_controller(sandbox, tmp, None, config_dir)
    yield proc
    proc.stop()
    logout_everyone(sandbox, config_dir)


def alive(controller: ControllerProcess) -> None:
    assert controller.process is not None
    assert controller.process.poll() is None, f"the controller exited:\n{controller.log_tail()}"


def log_size(controller: ControllerProcess) -> int:
    return controller.log_path.stat().st_size


def wait_log(controller: ControllerProcess, since: int, pattern: str,
             timeout_s: float = 20.0) -> str:
    """The first log line after byte ``since`` matching the regular expression ``pattern``."""
    deadline = time.monotonic() + timeout_s
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        alive(controller)
        with controller.log_path.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", errors="replace")
        for line in text.splitlines():
            if regex.search(line):
                return line
        time.sleep(0.1)
    raise AssertionError(f"no log line matching {pattern!r}:\n{controller.log_tail()}")


def agent_ready(timeout_s: float = 30.0) -> None:
    """Wait until 1001 is free and past Asterisk's wrap-up time in the general queue."""
    from hotline_sandbox import api

    wrapup_s = 10  # the sandbox's queues.conf: the shipped acd.wrapup_s
    deadline = time.monotonic() + timeout_s
    line = ""
    while time.monotonic() < deadline:
        members = [m for m in api.asterisk_cli("queue show hl-general").splitlines()
                   if f"PJSIP/agent-{AGENT}" in m]
        if members:
            line = members[0]
            last = re.search(r"last was (\d+) secs ago", line)
            if "(Not in use)" in line and "paused" not in line.lower() and (
                    last is None or int(last.group(1)) > wrapup_s):
                return
        time.sleep(0.2)
    raise AssertionError(f"agent {AGENT} not ready in hl-general: {line!r}")


def routed_call(sandbox: SandboxState, controller: ControllerProcess, traces: Path,
                label: str) -> dict[str, Any]:
    """Call 12345; 1001's phone must ring and answer. Returns what the call store says."""
    agent_ready()
    before = {r.call_id for r in controller.calls.records()}
    agent = answering_peer(sandbox.peer_ports[f"agent-{AGENT}"], traces, scenario="agent_answer_hangup.xml",
                           hold_ms=500, name=f"agent-{label}")
    caller = place_call("12345", traces, caller=CALLER, name=f"caller-{label}")
    assert caller.wait(60) == 0, caller.describe()
    assert agent.wait(10) == 0, agent.describe()
    assert "SIP/2.0 200 OK" in agent.messages()
    deadline = time.monotonic() + 20
    while True:
        fresh = [r for r in controller.calls.records()
                 if r.call_id not in before and r.first("hangup")
                 and (r.first("decided") or {}).get("number") == "12345"]
        if fresh:
            record = fresh[-1]
            break
        assert time.monotonic() < deadline, controller.log_tail()
        time.sleep(0.1)
    decided = record.first("decided") or {}
    queued = record.first("queued") or {}
    ringing = record.first("ringing") or {}
    result = record.first("dial_result") or {}
    return {"mode": decided.get("mode"), "phase": decided.get("phase"),
            "target_kind": decided.get("target_kind"), "queue": queued.get("queue"),
            "rang": str(ringing.get("dest", "")).rsplit("-", 1)[0],
            "status": result.get("status")}


def bomb(levels: int = 9, width: int = 10) -> str:
    """Billion laughs: each anchor is ``width`` aliases of the one before."""
    lines = [f"lol0: &lol0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_broken_edits_are_rejected_and_calls_still_route(
        sandbox: SandboxState, reloading: ControllerProcess, traces: Path) -> None:
    controller = reloading
    config = controller.config_dir
    agents = config / "agents.yaml"
    rules = config / "routing_rules.yaml"
    good_agents = agents.read_text(encoding="utf-8")
    good_rules = rules.read_text(encoding="utf-8")

    expected = routed_call(sandbox, controller, traces, "before")
    assert expected == {"mode": "main", "phase": "active", "target_kind": "queue",
                        "queue": "hl-general", "rang": f"PJSIP/agent-{AGENT}",
                        "status": "ANSWER"}, expected

    def restore(path: Path, text: str) -> None:
        since = log_size(controller)
        path.write_text(text, encoding="utf-8")
        wait_log(controller, since, r"configuration reloaded from ")
        alive(controller)

    # (a) agents.yaml saved in GBK: rejected at the line of the first Chinese character
    since = log_size(controller)
    agents.write_bytes(good_agents.replace("王芳", "王芳芳").encode("gbk"))
    first_gbk = next(i for i, line in enumerate(good_agents.splitlines(), 1)
                     if not line.isascii())
    line = wait_log(controller, since, r"config reload rejected: ")
    assert f"config reload rejected: {agents}:{first_gbk}: (file): not valid UTF-8 " in line, line
    assert "the file looks GBK-encoded): save it as UTF-8" in line, line
    wait_log(controller, since, r"keeping the last good configuration")
    alive(controller)
    assert routed_call(sandbox, controller, traces, "gbk") == expected
    restore(agents, good_agents)

    # (b) an alias bomb in routing_rules.yaml: refused at once, at the alias's line
    since = log_size(controller)
    started = time.monotonic()
    rules.write_text(good_rules + "\n" + bomb(), encoding="utf-8")
    bomb_start = len(good_rules.splitlines()) + 2  # the line of lol0
    line = wait_log(controller, since, r"config reload rejected: ")
    assert time.monotonic() - started < 10
    found = re.search(re.escape(str(rules)) + r":(\d+): \(aliases\): ", line)
    assert found is not None, line
    assert bomb_start < int(found.group(1)) < bomb_start + 9, line
    alive(controller)
    assert routed_call(sandbox, controller, traces, "bomb") == expected
    restore(rules, good_rules)

    # (c) a syntax error in routing_rules.yaml
    since = log_size(controller)
    rules.write_text(good_rules.replace("  agent_ring_s: 20 ", "  agent_ring_s: [20 ", 1),
                     encoding="utf-8")
    ring_line = next(i for i, text in enumerate(good_rules.splitlines(), 1)
                     if text.startswith("  agent_ring_s: 20 "))
    line = wait_log(controller, since, r"config reload rejected: ")
    found = re.search(re.escape(str(rules)) + r":(\d+): \(syntax\): ", line)
    assert found is not None, line
    assert ring_line <= int(found.group(1)) <= ring_line + 1, line  # where the parser stopped
    alive(controller)
    assert routed_call(sandbox, controller, traces, "syntax") == expected

    # (d) the good file back: reloaded, and calls route as ever
    restore(rules, good_rules)
    assert routed_call(sandbox, controller, traces, "after") == expected
    alive(controller)
    log = controller.log_tail(1_000_000)
    assert "Traceback" not in log, log[-4000:]
