"""Callbacks of missed and abandoned callers, dialled by the engine, with real calls.

Agent 1008 stays logged in but paused, so callers can queue with nobody to answer them; a
caller who hangs up after ``min_abandon_wait_s`` gets a callback entry.  When agent 1001
logs in, the engine rings 1001's phone first, then the caller's phone (the sandbox's
callers answer on 127.0.0.1:5196, ``callbacks.dial``), and bridges them: each RTP party
hears the other's tone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from hotline_sandbox.state import SandboxState
from testkit.config import edited_config
from testkit.controller import ControllerProcess
from testkit.rtp import AGENT_HZ, CALLER_HZ, RtpParty
from testkit.sipp import SippPeer, answering_peer, place_call, rtp_answering_peer
from tests.integration.conftest import REPO, ami_env, hotline

CONTROLLER_AT = "2025-03-03T10:00:00+08:00"  # a Monday morning: outside the quiet hours
MIN_WAIT_S = 3
RULES_EDIT = (("  min_abandon_wait_s: 10", f"  min_abandon_wait_s: {MIN_WAIT_S}"),
              ("  retry_after_s: 600", "  retry_after_s: 10"))
CALLBACK_PORT = 5196  # routing_rules.yaml callbacks.dial
QUIET_NOW = 'quiet_hours: {start: "09:00", end: "11:00"}'
QUIET_NIGHT = 'quiet_hours: {start: "21:00", end: "08:00"}'


def cli(sandbox: SandboxState, controller: ControllerProcess, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ivr.cli.main", *args],
        env={**os.environ, **ami_env(sandbox), "HOTLINE_RUN_DIR": str(controller.run_dir)},
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"hotline {args}: {result.stdout}{result.stderr}"
    return result.stdout


def entries(sandbox: SandboxState, controller: ControllerProcess) -> list[dict[str, Any]]:
    out = cli(sandbox, controller, "callbacks", "--all", "--json")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait_entry(sandbox: SandboxState, controller: ControllerProcess,
               test: Callable[[dict[str, Any]], bool], timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [e for e in entries(sandbox, controller) if test(e)]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no such callback entry in {entries(sandbox, controller)}; "
                         f"log:\n{controller.log_tail()}")


def diagnose(sandbox: SandboxState, *parties: RtpParty) -> str:
    """What the RTP parties saw and what Asterisk did with the callback legs."""
    seen = [f"{p!r} sent={p.sent} received={p.packets_received()}" for p in parties]
    log = Path(sandbox.asterisk_log)
    lines = log.read_text(errors="replace").splitlines()[-400:] if log.exists() else []
    ours = [line for line in lines if "callback" in line or "WARNING" in line
            or "ERROR" in line]
    return "\n".join([*seen, *ours[-80:]])


@pytest.fixture
def agents(sandbox: SandboxState, controller: ControllerProcess) -> Iterator[Callable[..., None]]:
    """1008 logged in and paused (callers queue, nobody answers); ``login("1001")`` later."""
    hotline(sandbox, controller.config_dir, "agent", "login", "1008")
    hotline(sandbox, controller.config_dir, "agent", "pause", "1008", "--reason", "1")
    logged = ["1008"]

    def login(*ids: str) -> None:
        logged.extend(ids)
        hotline(sandbox, controller.config_dir, "agent", "login", *ids)

    yield login
    from hotline_sandbox import api

    api.asterisk_cli("channel request hangup all")
    hotline(sandbox, controller.config_dir, "agent", "logout", *logged)


def abandon(traces: Path, caller: str, hold_ms: int = 13000, name: str = "abandon") -> SippPeer:
    """A caller who hangs up while queued (greeting ~5 s, then the queue)."""
    call = place_call("12345", traces, caller=caller, scenario="caller_hangup.xml",
                      hold_ms=hold_ms, name=name)
    assert call.wait(60) == 0, call.describe()
    return call


def test_an_abandoned_caller_is_called_back_when_an_agent_logs_in(
        sandbox: SandboxState, controller: ControllerProcess, agents: Callable[..., None],
        traces: Path) -> None:
    number = "13800005101"
    abandon(traces, number)
    entry = wait_entry(sandbox, controller, lambda e: e["caller"] == "138******01"
                       and e["state"] == "pending")
    assert entry["reason"] == "abandoned" and entry["skill"] == "general"
    listing = cli(sandbox, controller, "callbacks")
    assert number not in listing and "138******01" in listing
    with ExitStack() as stack:
        agent_rtp = stack.enter_context(RtpParty(AGENT_HZ))
        caller_rtp = stack.enter_context(RtpParty(CALLER_HZ))
        agent = rtp_answering_peer(sandbox.peer_ports["agent-1001"], traces, agent_rtp.port,
                                   scenario="rtp_answer_hangup.xml", hold_ms=20000,
                                   timeout_s=90, name="agent-1001")
        phone = rtp_answering_peer(CALLBACK_PORT, traces, caller_rtp.port,
                                   scenario="rtp_answer.xml", timeout_s=90, name="caller-phone")
        agents("1001")
        assert agent_rtp.wait_for_tone(CALLER_HZ, timeout_s=45), \
            f"the agent never heard the caller; {diagnose(sandbox, agent_rtp, caller_rtp)}"
        assert caller_rtp.wait_for_tone(AGENT_HZ, timeout_s=15), \
            f"the caller never heard the agent; {diagnose(sandbox, agent_rtp, caller_rtp)}"
        assert agent.wait(60) == 0, agent.describe()
        assert phone.wait(20) == 0, phone.describe()
    # the caller's phone shows 12345 calling
    invite = phone.messages().split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
    shown = [line for line in invite.splitlines()
             if line.startswith(("From:", "P-Asserted-Identity:"))]
    assert shown and all("<sip:12345@" in line for line in shown), invite
    done = wait_entry(sandbox, controller, lambda e: e["id"] == entry["id"]
                      and e["state"] == "connected")
    assert done["attempts"] == 1 and done["agent"] == "1001"
    record = controller.calls.get(entry["call_id"])
    assert record is not None
    steps = [s["step"] for s in record.steps]
    # the agent's phone rings first (callback_dialled), the caller's once the agent answered
    order = [steps.index(s) for s in ("callback_requested", "callback_dialled",
                                      "callback_caller_ringing", "callback_connected",
                                      "callback_outcome")]
    assert order == sorted(order), steps
    assert number not in json.dumps(record.steps, ensure_ascii=False)
    # the agent was paused for the callback only
    states = {row["agent"]: row for row in json.loads(
        hotline(sandbox, controller.config_dir, "agent", "list", "--json"))}
    assert states["1001"]["state"] != "paused", states["1001"]


def test_a_new_call_from_the_caller_cancels_the_pending_callback(
        sandbox: SandboxState, controller: ControllerProcess, agents: Callable[..., None],
        traces: Path) -> None:
    number = "13800005202"
    abandon(traces, number, name="first")
    entry = wait_entry(sandbox, controller, lambda e: e["caller"] == "138******02"
                       and e["state"] == "pending")
    again = place_call("12345", traces, caller=number, scenario="caller_hangup.xml",
                       hold_ms=7000, name="again")
    assert again.wait(60) == 0, again.describe()
    cancelled = wait_entry(sandbox, controller, lambda e: e["id"] == entry["id"]
                           and e["state"] == "cancelled")
    assert cancelled["last_outcome"] == "cancelled"
    _, step = controller.wait_for_step("callback_outcome", call_id=entry["call_id"],
                                       outcome="cancelled")
    assert step["caller"] == "138******02"


def test_cancel_from_the_command_line(
        sandbox: SandboxState, controller: ControllerProcess, agents: Callable[..., None],
        traces: Path) -> None:
    abandon(traces, "13800005303", name="cli")
    entry = wait_entry(sandbox, controller, lambda e: e["caller"] == "138******03"
                       and e["state"] == "pending")
    out = cli(sandbox, controller, "callbacks", "cancel", str(entry["id"]))
    assert "cancelled" in out and "13800005303" not in out
    result = subprocess.run(
        [sys.executable, "-m", "ivr.cli.main", "callbacks", "cancel", str(entry["id"])],
        env={**os.environ, "HOTLINE_RUN_DIR": str(controller.run_dir)},
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "is cancelled: it cannot become cancelled" in result.stderr


def test_quiet_hours_hold_a_callback_until_they_end(
        sandbox: SandboxState, controller: ControllerProcess, agents: Callable[..., None],
        traces: Path, tmp_path: Path) -> None:
    rules = controller.config_dir / "routing_rules.yaml"
    assert rules.resolve() != (REPO / "routing_rules.yaml").resolve()

    def set_quiet(old: str, new: str) -> None:
        before = controller.log_tail(10**7).count("configuration reloaded")
        edited_config(controller.config_dir, tmp_path / "next", ((old, new),))
        (tmp_path / "next" / "routing_rules.yaml").replace(rules)
        deadline = time.monotonic() + 30
        while controller.log_tail(10**7).count("configuration reloaded") <= before:
            assert time.monotonic() < deadline, controller.log_tail()
            time.sleep(0.2)

    set_quiet(QUIET_NIGHT, QUIET_NOW)
    try:
        abandon(traces, "13800005404", name="night")
        phone = answering_peer(sandbox.peer_ports["agent-1001"], traces,
                               scenario="agent_answer_hangup.xml", hold_ms=10000,
                               timeout_s=120, name="agent-1001-quiet")
        caller = answering_peer(CALLBACK_PORT, traces, scenario="agent_answer.xml",
                                timeout_s=120, name="caller-quiet")
        agents("1001")
        held = wait_entry(sandbox, controller, lambda e: e["caller"] == "138******04"
                          and e["held"].startswith("quiet hours until"))
        assert held["state"] == "pending" and held["attempts"] == 0
        time.sleep(3)  # three scheduler rounds with a free agent: still held
        assert "INVITE sip:" not in phone.messages()
        assert entries(sandbox, controller)[0]["state"] == "pending"
    finally:
        set_quiet(QUIET_NOW, QUIET_NIGHT)  # the quiet hours end
    wait_entry(sandbox, controller, lambda e: e["id"] == held["id"]
               and e["state"] == "connected")
    assert phone.wait(60) == 0, phone.describe()
    assert caller.wait(60) == 0, caller.describe()
