"""``hotline listening report``: the figures a supervisor reads, from call records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ivr.cli.main import main
from ivr.core.callstore import CallRecord, CallStore
from ivr.listening.report import render_html, summarise

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def classified(domain: str, budget_ms: float, outcome: str = "classified",
               emergency: str | None = None, queue: str | None = None,
               latency_ms: float | None = 20.0) -> dict[str, Any]:
    return {"step": "classified", "outcome": outcome, "budget_used_ms": budget_ms,
            "speech": {"latency_ms": latency_ms},
            "classification": {"domain": domain, "request_type": "consultation",
                               "emergency_number": emergency, "out_of_scope": None},
            "target_kind": "emergency" if emergency else "queue",
            "queue": queue or f"hl-{domain}", "dial": f"PJSIP/{emergency}@emergency" if emergency else None}


def record(call_id: str, listening: bool, *steps: dict[str, Any]) -> CallRecord:
    return CallRecord(call_id, [{"step": "decided", "listening": listening}, *steps])


CALLS = [
    record("1", True, classified("tax", 3400)),
    record("2", True, classified("tax", 9000)),
    record("3", True, classified("general", 1600, emergency="119", queue="hl-general")),
    record("4", True, classified("general", 11250, outcome="no_speech", latency_ms=None)),
    record("5", True, classified("general", 16200, outcome="timeout", latency_ms=None)),
    record("6", True),  # hung up while listening
    record("7", False),  # a legacy line: not listened to
    CallRecord("8", [{"step": "hangup"}]),  # no decision: not a routed call
]


def test_rates_budget_and_destinations() -> None:
    summary = summarise(CALLS)
    assert summary["calls"] == 7 and summary["listened"] == 6
    assert summary["pre_classified"] == 3  # two tax calls and the fire
    assert summary["pre_classified_share"] == pytest.approx(0.5)
    assert summary["outcomes"] == {"classified": 3, "no_speech": 1, "timeout": 1, "unrecorded": 1}
    assert summary["within_budget"] == 4 and summary["within_budget_share"] == pytest.approx(0.8)
    assert summary["answer_to_decision_ms"]["median"] == 9000
    assert summary["answer_to_decision_ms"]["max"] == 16200
    assert summary["end_of_speech_to_decision_ms"]["n"] == 3
    assert summary["targets"] == {"hl-tax": 2, "hl-general": 2, "PJSIP/119@emergency": 1}
    assert summary["emergencies"] == {"119": 1}
    assert summary["histogram_s"] == {"1": 1, "3": 1, "9": 1, "11": 1, "16": 1}


def test_a_journal_without_listening_reports_nothing_listened() -> None:
    summary = summarise([record("1", False)])
    assert summary["listened"] == 0 and summary["pre_classified_share"] is None
    assert "listened to<b>0</b>" in render_html(summary)


def test_the_page_flags_a_missed_budget() -> None:
    page = render_html(summarise(CALLS))
    assert "decided within 15 s<b>80.0%</b>" in page
    assert "class='kpi bad'" in page  # 80 % < 95 %
    assert "class='bar over'" in page  # the 16 s call
    assert "PJSIP/119@emergency" in page


def test_the_command_reads_the_call_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = CallStore(tmp_path / "calls.db")
    store.open()
    for call in CALLS:
        for step in call.steps:
            store.append(call.call_id, step["step"], AT,
                         **{k: v for k, v in step.items() if k != "step"})
    store.close()
    page = tmp_path / "listening.html"
    assert main(["listening", "report", "--store", str(store.path), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "listened to 6, routed on speech 3 (50.0%)" in out
    assert "within 15 s: 4/5 (80.0%)" in out
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert main(["listening", "report", "--store", str(store.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["targets"]["hl-tax"] == 2


@pytest.mark.parametrize(("said", "kept"), [
    ("我的电话是13800138000", "我的电话是138******00"),
    ("电话 一 三 八 零 零 一 三 八 零 零 零 谢谢", "电话 一三八******零零 谢谢"),
    ("身份证110101199003071234", "身份证110*************34"),
    ("拨打12345反映", "拨打12345反映"),  # short runs stay: hotline numbers, amounts, dates
    ("罚款200元，2021年7月1日", "罚款200元，2021年7月1日"),
])
def test_numbers_in_what_callers_say_are_masked(said: str, kept: str) -> None:
    from ivr.masking import mask_numbers_in_text

    assert mask_numbers_in_text(said) == kept
