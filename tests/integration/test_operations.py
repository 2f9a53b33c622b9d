"""The operations view with real calls: SIPp callers through the sandbox Asterisk, then
``hotline report`` and the controller's ``/metrics`` checked against what this test did.

Sichuan on 2021-07-01: 12345 (main) and 12396 (a whole-merge line in its transition).
Two calls are answered; both agents are then paused and a third caller hangs up after
~5 s in the queue (abandoned within 15 s)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hotline_sandbox.state import SandboxState
from ivr.core.callstore import CallRecord
from testkit.controller import ControllerProcess
from testkit.sipp import SippPeer, answering_peer, place_call
from tests.integration.conftest import hotline

CONTROLLER_AT = "2021-07-01T10:00:00+08:00"
DAY = "2021-07-01"
METRICS_PORT = 9346  # not the default: a developer's own controller may hold 9345
RULES_EDIT = (("  port: 9345", f"  port: {METRICS_PORT}"),)
TEST_ROSTER = """
version: 1
agents:
  - {id: "2001", name: 甲, interface: PJSIP/agent-1001, skills: {general: 9}}
  - {id: "2002", name: 乙, interface: PJSIP/agent-1002, skills: {general: 9}}
"""
LOGIN = ("2001", "2002")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape() -> tuple[str, Samples]:
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5) as resp:
        text = resp.read().decode("utf-8")
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return text, out


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == want for k, want in labels.items()))


def records(controller: ControllerProcess) -> list[CallRecord]:
    return list(controller.calls.records())


@pytest.fixture
def phones(sandbox: SandboxState, controller: ControllerProcess,
           traces: Path) -> Iterator[list[SippPeer]]:
    """Both agents' phones (answer, talk 1 s, hang up); stopped and the agents resumed after."""
    peers = [answering_peer(sandbox.peer_ports[f"agent-{n}"], traces, calls=2, hold_ms=1000,
                            scenario="agent_answer_hangup.xml", timeout_s=120, name=f"agent-{n}")
             for n in ("1001", "1002")]
    yield peers
    for peer in peers:
        peer.stop()
    hotline(sandbox, controller.config_dir, "agent", "resume", *LOGIN)


def test_report_and_metrics_match_the_calls_made(
        sandbox: SandboxState, controller: ControllerProcess, traces: Path,
        phones: list[SippPeer]) -> None:
    first = place_call("12345", traces, caller="13800000501", name="main")
    assert first.wait(60) == 0, first.describe()
    second = place_call("12396", traces, caller="13800000502", name="legacy")
    assert second.wait(60) == 0, second.describe()
    hotline(sandbox, controller.config_dir, "agent", "pause", "2001")
    hotline(sandbox, controller.config_dir, "agent", "pause", "2002")
    # the greeting plays ~6 s after the answer: hanging up 11 s after it leaves ~5 s queued
    third = place_call("12345", traces, caller="13800000503", scenario="caller_hangup.xml",
                       hold_ms=11000, name="abandon")
    assert third.wait(60) == 0, third.describe()
    rang = 0
    for peer in phones:
        peer.stop()
        rang += peer.messages().count("INVITE sip:")
    assert rang == 2, "the paused agents' phones must not ring for the third call"

    deadline = time.monotonic() + 15
    while sum(1 for r in records(controller) if r.first("hangup")) < 3:
        assert time.monotonic() < deadline, controller.log_tail()
        time.sleep(0.2)
    calls = {str((r.first("decided") or {}).get("number")) + ":" + str(i): r
             for i, r in enumerate(records(controller))}
    assert len(calls) == 3, list(calls)
    main_mode = str((records(controller)[0].first("decided") or {})["mode"])
    legacy = next(r for r in records(controller) if (r.first("decided") or {})["number"] == "12396")
    legacy_mode = str((legacy.first("decided") or {})["mode"])
    assert (legacy.first("decided") or {})["phase"] == "transition"

    # --- hotline report ----------------------------------------------------------------
    result = subprocess.run(
        [sys.executable, "-m", "ivr.cli.main", "report", "--from", DAY, "--to", DAY,
         "--db", str(controller.run_dir / "calls.db"), "--format", "json", "--by", "line"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    t = report["total"]
    assert (t["offered"], t["queued"], t["answered"], t["abandoned"]) == (3, 3, 2, 1), t
    assert t["abandoned_within_target"] == 1 and t["abandoned_after_target"] == 0
    assert t["answered_within_target"] == 2  # free agents: both answered at once
    assert t["answered_within_target_share"] == pytest.approx(2 / 3)
    assert t["connection_rate"] == pytest.approx(2 / 3)
    # the phones talk 1 s; answer and hangup are stamped as their AMI events arrive, a few
    # ms either way of SIPp's pause
    assert t["avg_talk_s"] is not None and t["avg_talk_s"] >= 0.5
    assert report["groups"]["12345"]["offered"] == 2
    assert report["groups"]["12396"]["answered"] == 1
    lines = report["merger_traffic"]["lines"]
    assert [(x["number"], x["mode"], x["phases"], x["calls"]) for x in lines] == [
        ("12396", legacy_mode, {"transition": 1}, 1)]
    page = controller.run_dir.parent / "report.html"
    html = subprocess.run(
        [sys.executable, "-m", "ivr.cli.main", "report", "--from", DAY, "--to", DAY,
         "--db", str(controller.run_dir / "calls.db"), "--format", "html", "-o", str(page)],
        capture_output=True, text=True, timeout=120)
    assert html.returncode == 0, html.stderr
    assert page.read_text(encoding="utf-8").count("data:image/png;base64,") == 4

    # --- /metrics ------------------------------------------------------------------------
    deadline = time.monotonic() + 20  # a pause during wrap-up takes effect when it ends
    while True:
        text, samples = scrape()
        done = total(samples, "hotline_calls_total") == 3 and total(
            samples, "hotline_agents", skill="general", state="paused") == 2
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert total(samples, "hotline_calls_total") == 3, text
    assert total(samples, "hotline_calls_total", mode=main_mode, phase="active",
                 outcome="answered") == 1
    assert total(samples, "hotline_calls_total", mode=main_mode, phase="active",
                 outcome="abandoned") == 1
    assert total(samples, "hotline_calls_total", mode=legacy_mode, phase="transition",
                 outcome="answered") == 1
    assert total(samples, "hotline_calls_decided_total") == 3
    assert total(samples, "hotline_decision_latency_seconds_count") == 3
    assert total(samples, "hotline_queue_entered_total") == 3
    assert total(samples, "hotline_queue_answered_total", within_target="true") == 2
    assert total(samples, "hotline_queue_abandoned_total", skill="general") == 1
    assert total(samples, "hotline_fastagi_fallbacks_total") == 0
    assert total(samples, "hotline_acd_snapshot_up") == 1
    assert total(samples, "hotline_agents", skill="general", state="paused") == 2, text
    assert total(samples, "hotline_queue_waiting_calls") == 0
    assert "13800000" not in text and "******" not in text  # no caller data


def test_metrics_count_work_orders_awaiting_their_departments_ack(
        controller: ControllerProcess) -> None:
    """A work order filed for tax (subcenter-12366) while no tax client is connected (this
    module starts no broker): /metrics shows it waiting for tax's acknowledgement."""
    from datetime import UTC, datetime

    from ivr.workorders import SqliteWorkOrderStore

    _, before = scrape()
    waiting = total(before, "hotline_workorders_awaiting_ack", department="tax")
    store = SqliteWorkOrderStore(controller.run_dir / "workorders.db")
    try:  # filed the way the transfer feature files one, beside the running controller
        store.create(call_id="ops-metrics", created_at=datetime.now(UTC),
                     target="subcenter-12366", target_kind="subcenter", reason="no_answer",
                     summary="个税汇算咨询", line="12345", caller_masked="139******21")
    finally:
        store.close()
    text, after = scrape()
    assert total(after, "hotline_workorders_awaiting_ack", department="tax") == waiting + 1, text
    assert total(after, "hotline_workorders_awaiting_ack", department="customs") == 0, text
