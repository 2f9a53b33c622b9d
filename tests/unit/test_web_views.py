"""The old page writers are views now: ``hotline queue status --html`` points at the
controller's wallboard; ``hotline listening report --html`` is a page of the reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cli.main import main
from ivr.listening.report import render_html
from ivr.reports.html import _STYLE as REPORT_STYLE
from ivr.reports.listening import render_listening

REPO = Path(__file__).resolve().parents[2]


def test_queue_status_html_prints_the_wallboard_url_and_writes_a_link(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("HOTLINE_RUN_DIR", str(run))
    link = tmp_path / "queues.html"
    assert main(["queue", "status", "--config", str(REPO), "--html", str(link)]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8345/wallboard" in out
    page = link.read_text(encoding="utf-8")
    assert "url=http://127.0.0.1:8345/wallboard" in page and "<table" not in page
    assert main(["queue", "status", "--config", str(REPO), "--html"]) == 0  # the URL only
    assert "/wallboard" in capsys.readouterr().out


def test_listening_page_is_rendered_by_the_reports() -> None:
    summary = {"calls": 2, "listened": 1, "pre_classified_share": 0.5, "within_budget_share": 1.0,
               "budget_ms": 15_000, "answer_to_decision_ms": {"median": 4000.0},
               "end_of_speech_to_decision_ms": {"median": 300.0}, "histogram_s": {"4": 1},
               "outcomes": {"routed": 1}, "targets": {"hl-tax": 1}, "domains": {"tax": 1},
               "request_types": {}, "emergencies": {}, "out_of_scope": {}}
    page = render_html(summary)
    assert page == render_listening(summary)
    assert REPORT_STYLE.strip() in page  # the report pages' own shell
    assert "decided within 15 s<b>100.0%</b>" in page and "hl-tax" in page
