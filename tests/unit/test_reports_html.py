"""The HTML report: four plots as data URIs, Chinese labels with a CJK font, English without."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.reports.html import CJK_FONT_FILES, cjk_font, plots, render_html
from ivr.reports.report import build_report
from tests.unit.test_reports_kpi import facts

DAY = datetime(2024, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_page_has_four_plots_and_the_tables() -> None:
    report = build_report(facts(), DAY, DAY + timedelta(days=2), by="skill")
    page = render_html(report, font=None)
    assert page.count("<img ") == 4
    assert "15秒接通率" in page and "12396" in page and "social_security" in page


def test_without_a_cjk_font_the_plots_still_render() -> None:
    assert cjk_font(("/nonexistent/font.ttc",)) is None
    report = build_report([], DAY, DAY + timedelta(days=1))
    images = plots(report, None)
    assert set(images) == {"load", "service_level", "waits", "merger"}


def test_bootstrap_installs_the_cjk_font_matplotlib_finds() -> None:
    bootstrap = Path(__file__).resolve().parents[2] / "tools" / "bootstrap"
    assert "fonts-wqy-microhei" in bootstrap.read_text(encoding="utf-8")
    if not any(os.path.isfile(p) for p in CJK_FONT_FILES):
        if os.environ.get("CI") == "true":
            pytest.fail("no CJK font installed (tools/bootstrap installs fonts-wqy-microhei)")
        pytest.skip("no CJK font on this machine (tools/bootstrap installs fonts-wqy-microhei)")
    assert cjk_font() is not None
