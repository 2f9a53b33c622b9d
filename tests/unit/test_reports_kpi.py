"""Every KPI formula of ``hotline report`` on a hand-computed call set (ivr/reports)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr.core.callstore.bulk import bulk_load
from ivr.core.callstore.schema import step_row
from ivr.reports.facts import CallFacts, facts_of
from ivr.reports.kpi import (
    compute,
    grouped,
    merger_totals,
    merger_traffic,
    percentile,
    wait_distribution,
)
from ivr.reports.report import build_report, render_csv, render_json, render_text

BJ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2024, 3, 1, tzinfo=BJ)

Step = tuple[str, str, dict[str, Any]]  # (step, HH:MM:SS or +1d HH:MM:SS, fields)


def at(clock: str) -> datetime:
    day = DAY
    if clock.startswith("+1d "):
        day, clock = DAY + timedelta(days=1), clock[4:]
    h, m, s = (int(x) for x in clock.split(":"))
    return day.replace(hour=h, minute=m, second=s)


def decided(number: str = "12345", mode: str = "main", phase: str = "active",
            skill: str | None = "general", **extra: Any) -> dict[str, Any]:
    return {"number": number, "mode": mode, "phase": phase, "skill": skill,
            "caller": "138******00", "region": "sichuan", "line_name": f"line {number}", **extra}


#: The call set.  Hand-computed figures are in the tests below.
CALLS: dict[str, list[Step]] = {
    # A: answered after 10 s (hold_s), talks 120 s
    "A": [("decided", "09:00:00", decided()), ("queued", "09:00:00", {"queue": "hl-general"}),
          ("answered", "09:00:10", {"queue": "hl-general", "agent": "1001", "hold_s": 10}),
          ("hangup", "09:02:10", {"cause": "16"})],
    # B: answered, no hold_s: wait = queued -> answered = 20 s (over target), talks 60 s
    "B": [("decided", "09:10:00", decided()), ("queued", "09:10:00", {"queue": "hl-general"}),
          ("answered", "09:10:20", {"queue": "hl-general", "agent": "1002"}),
          ("hangup", "09:11:20", {})],
    # C: hung up while queued after 8 s: abandoned within 15 s
    "C": [("decided", "10:00:00", decided()), ("queued", "10:00:00", {"queue": "hl-general"}),
          ("hangup", "10:00:08", {})],
    # D: queue_result ABANDON after 30 s: abandoned after 15 s
    "D": [("decided", "10:05:00", decided()), ("queued", "10:05:00", {"queue": "hl-general"}),
          ("queue_result", "10:05:30", {"status": "ABANDON"}), ("hangup", "10:05:31", {})],
    # E: answered after 5 s, transferred, the target did not answer (work order), back in
    #    the queue, hung up there: answered (not abandoned), requeued-then-abandoned, talk 155 s
    "E": [("decided", "11:00:00", decided()), ("queued", "11:00:00", {"queue": "hl-general"}),
          ("answered", "11:00:05", {"queue": "hl-general", "agent": "1001", "hold_s": 5}),
          ("transfer_requested", "11:01:00", {"transfer": "t1", "target": "subcenter-12366"}),
          ("transfer_ringing", "11:01:01", {"transfer": "t1"}),
          ("transfer_failed", "11:01:30", {"transfer": "t1", "outcome": "no_answer",
                                          "workorder": "WO-1"}),
          ("queued", "11:02:00", {"queue": "hl-general"}),
          ("hangup", "11:02:40", {})],
    # F: nobody logged in: queued, JOINEMPTY, callback requested
    "F": [("decided", "12:00:00", decided()), ("queued", "12:00:00", {"queue": "hl-general"}),
          ("queue_result", "12:00:01", {"status": "JOINEMPTY"}),
          ("callback_requested", "12:00:05", {"skill": "general"}), ("hangup", "12:00:06", {})],
    # G: whole-merge line in transition, across midnight, pre-classified on speech
    "G": [("decided", "23:59:50", decided("12396", "whole_merge", "transition", listening=True)),
          ("classified", "23:59:53", {"outcome": "classified", "skill": "social_security",
                                      "classification": {"domain": "social_security"}}),
          ("queued", "23:59:55", {"queue": "hl-social_security"}),
          ("answered", "+1d 00:00:07", {"queue": "hl-social_security", "agent": "1003",
                                        "hold_s": 12}),
          ("hangup", "+1d 00:01:07", {})],
    # H: a cancelled whole-merge number, answered after 3 s, talk 30 s
    "H": [("decided", "14:00:00", decided("12358", "whole_merge", "cancelled")),
          ("prompts_played", "14:00:00", {}), ("queued", "14:00:00", {"queue": "hl-general"}),
          ("answered", "14:00:03", {"queue": "hl-general", "agent": "1002", "hold_s": 3}),
          ("hangup", "14:00:33", {})],
    # I: a sub-center line: dialled, answered there (connected, never queued)
    "I": [("decided", "16:00:00", decided("12366", "sub_center", "active", skill=None)),
          ("dial", "16:00:00", {"kind": "subcenter"}), ("ringing", "16:00:01", {}),
          ("dial_result", "16:00:20", {"status": "ANSWER"}), ("hangup", "16:03:00", {})],
    # J: the fallback desk (not connected: the desk is not a dial_result ANSWER here)
    "J": [("decided", "17:00:00", decided()), ("fallback", "17:00:01", {}),
          ("hangup", "17:00:30", {})],
    # K: answered at once, transfer answered, talk 180 s
    "K": [("decided", "15:00:00", decided()), ("queued", "15:00:00", {"queue": "hl-general"}),
          ("answered", "15:00:00", {"queue": "hl-general", "agent": "1001", "hold_s": 0}),
          ("transfer_requested", "15:01:00", {"transfer": "t2"}),
          ("transfer_answered", "15:01:10", {"transfer": "t2"}),
          ("hangup", "15:03:00", {})],
    # L: the next morning, answered after 14 s, talk 60 s
    "L": [("decided", "+1d 08:00:00", decided()),
          ("queued", "+1d 08:00:00", {"queue": "hl-general"}),
          ("answered", "+1d 08:00:14", {"queue": "hl-general", "agent": "1002", "hold_s": 14}),
          ("hangup", "+1d 08:01:14", {})],
}


def steps_of(call_id: str) -> list[dict[str, Any]]:
    return [{"call_id": call_id, "step": step, "at": at(clock).isoformat(), **data}
            for step, clock, data in CALLS[call_id]]


def facts() -> list[CallFacts]:
    out = [facts_of(cid, steps_of(cid)) for cid in CALLS]
    return [f for f in out if f is not None]


def one(call_id: str) -> CallFacts:
    result = facts_of(call_id, steps_of(call_id))
    assert result is not None
    return result


def test_per_call_facts() -> None:
    assert one("A").wait_s == 10 and one("A").talk_s == 120 and one("A").agent == "1001"
    assert one("B").wait_s == 20  # queued -> answered without hold_s
    assert one("C").abandoned and one("C").abandon_wait_s == 8
    assert one("D").abandoned and one("D").abandon_wait_s == 30
    e = one("E")
    assert e.answered and not e.abandoned and e.requeue_abandoned
    assert e.talk_s == 155 and e.transfers == ("no_answer",) and e.workorders == 1
    f = one("F")
    assert f.queued and not f.answered and not f.abandoned and f.callback_requested
    g = one("G")
    assert g.wait_s == 12 and g.talk_s == 60 and g.pre_classified and g.listened
    assert g.skill == "social_security" and g.mode == "whole_merge" and g.phase == "transition"
    assert one("I").connected and not one("I").queued
    assert one("J").fallback and not one("J").connected
    assert one("K").transfers == ("answered",)
    assert facts_of("none", []) is None


def test_totals() -> None:
    k = compute(facts())
    assert k.offered == 12
    assert k.queued == 10  # all but I and J
    assert k.answered == 7  # A B E G H K L
    assert k.answered_within_target == 6  # waits 10 5 12 3 0 14 (B waited 20)
    assert k.answered_within_target_share == pytest.approx(6 / 10)
    assert k.connected == 8 and k.connection_rate == pytest.approx(8 / 12)  # + I
    assert (k.abandoned, k.abandoned_within_target, k.abandoned_after_target) == (2, 1, 1)
    assert k.requeue_abandoned == 1
    assert k.avg_wait_s == pytest.approx((10 + 20 + 5 + 12 + 3 + 0 + 14) / 7)
    assert k.p90_wait_s == 20  # nearest rank: ceil(0.9 * 7) = 7th of 0 3 5 10 12 14 20
    assert k.avg_talk_s == pytest.approx((120 + 60 + 155 + 60 + 30 + 180 + 60) / 7)
    assert k.fallback == 1 and k.callbacks_requested == 1
    assert k.transfers == {"answered": 1, "no_answer": 1} and k.workorders == 1
    assert k.listened == 1 and k.pre_classified == 1
    assert k.pre_classified_share == pytest.approx(1 / 12)


def test_empty_set_has_no_rates() -> None:
    k = compute([])
    assert k.offered == 0 and k.answered_within_target_share is None
    assert k.connection_rate is None and k.avg_wait_s is None and k.p90_wait_s is None


def test_grouping_by_day_counts_a_call_on_the_day_it_started() -> None:
    days = grouped(facts(), "day")
    assert list(days) == ["2024-03-01", "2024-03-02"]
    assert days["2024-03-01"].offered == 11  # G started at 23:59:50 and ended after midnight
    assert days["2024-03-02"].offered == 1 and days["2024-03-02"].answered == 1


def test_grouping_by_hour_skill_line_agent() -> None:
    hours = grouped(facts(), "hour")
    assert hours["2024-03-01 23:00"].offered == 1
    assert hours["2024-03-01 10:00"].abandoned == 2
    assert sum(k.offered for k in hours.values()) == 12
    skills = grouped(facts(), "skill")
    assert {n: k.offered for n, k in skills.items()} == {"-": 1, "general": 10, "social_security": 1}
    lines = grouped(facts(), "line")
    assert {n: k.offered for n, k in lines.items()} == {"12345": 9, "12358": 1, "12366": 1,
                                                         "12396": 1}
    agents = grouped(facts(), "agent")
    assert {n: k.answered for n, k in agents.items()} == {"-": 0, "1001": 3, "1002": 3, "1003": 1}
    assert agents["1001"].transfers == {"answered": 1, "no_answer": 1}
    with pytest.raises(ValueError):
        grouped(facts(), "region")


def test_merger_traffic() -> None:
    lines = merger_traffic(facts())
    assert [(t.number, t.mode, t.phases) for t in lines] == [
        ("12358", "whole_merge", {"cancelled": 1}),
        ("12366", "sub_center", {"active": 1}),
        ("12396", "whole_merge", {"transition": 1}),
    ]
    assert lines[2].last_call == "2024-03-01T23:59+08:00"
    assert merger_totals(lines) == {"sub_center": {"active": 1},
                                    "whole_merge": {"cancelled": 1, "transition": 1}}


def test_percentile_and_wait_distribution() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 0.9) == 9.0
    dist = wait_distribution([0, 5, 5.5, 15, 16, 200])
    assert dist["0-5"] == 2 and dist["5-10"] == 1 and dist["10-15"] == 1
    assert dist["15-20"] == 1 and dist[">120"] == 1 and sum(dist.values()) == 6


def test_report_renderings() -> None:
    report = build_report(facts(), DAY, DAY + timedelta(days=2), by="day")
    assert report.hourly[10]["offered"] == 2 and report.hourly[23]["offered"] == 1
    assert sum(report.waits.values()) == 7
    data = json.loads(render_json(report))
    assert data["total"]["offered"] == 12
    assert data["groups"]["2024-03-02"]["answered"] == 1
    assert data["merger_traffic"]["by_mode_and_phase"]["whole_merge"] == {"cancelled": 1,
                                                                          "transition": 1}
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [r["group"] for r in rows] == ["total", "2024-03-01", "2024-03-02"]
    assert rows[0]["answered_within_target_share"] == "0.6"
    assert rows[0]["transfers_no_answer"] == "1"
    text = render_text(report)
    assert "15秒接通率" in text and "60.0%" in text and "12396" in text


def test_report_from_a_call_store_through_the_cli(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from ivr.cli.main import main

    db = tmp_path / "calls.db"
    bulk_load(db, (step_row(cid, step, at(clock), data)
                   for cid, steps in CALLS.items() for step, clock, data in steps))
    assert main(["report", "--from", "2024-03-01", "--to", "2024-03-01", "--db", str(db),
                 "--format", "json"]) == 0
    day_one = json.loads(capsys.readouterr().out)
    assert day_one["total"]["offered"] == 11  # --to includes the whole day, not the next one
    assert main(["report", "--from", "2024-03-01", "--to", "2024-03-02", "--db", str(db),
                 "--by", "line", "--format", "csv"]) == 0
    assert "12396" in capsys.readouterr().out
    out = tmp_path / "r.html"
    assert main(["report", "--from", "2024-03-01", "--to", "2024-03-02", "--db", str(db),
                 "--format", "html", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4 and "原热线号码话务" in page
    assert main(["report", "--from", "2024-03-01", "--to", "2024-03-02", "--db", str(db),
                 "--region", "anhui", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["offered"] == 0  # all are sichuan's
    assert main(["report", "--from", "2024-03-01", "--to", "2024-03-02", "--db", str(db),
                 "--region", "sichuan", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["offered"] == 12
    assert main(["report", "--from", "2024-03-02", "--to", "2024-03-01", "--db", str(db)]) == 2
    assert main(["report", "--from", "2024-03-01", "--to", "2024-03-02",
                 "--db", str(tmp_path / "missing.db")]) == 1


AFTER: dict[str, list[Step]] = {
    # R1: the agent hangs up at 09:05, the caller rates 满意 (2), hangs up: talk 300 s
    "R1": [("decided", "09:00:00", decided()), ("queued", "09:00:00", {"queue": "hl-general"}),
           ("answered", "09:00:00", {"agent": "1001", "hold_s": 0}),
           ("survey_started", "09:05:00", {"agent": "1001"}),
           ("rated", "09:05:08", {"level": 2, "outcome": "rated"}),
           ("hangup", "09:05:10", {})],
    # R2: rated 非常不满意 (5): a bad rating
    "R2": [("decided", "10:00:00", decided()), ("queued", "10:00:00", {"queue": "hl-general"}),
           ("answered", "10:00:04", {"agent": "1002", "hold_s": 4}),
           ("survey_started", "10:01:04", {}), ("rated", "10:01:10", {"level": 5}),
           ("hangup", "10:01:12", {})],
    # R3: surveyed, no key twice: not rated
    "R3": [("decided", "11:00:00", decided()), ("queued", "11:00:00", {"queue": "hl-general"}),
           ("answered", "11:00:02", {"agent": "1001", "hold_s": 2}),
           ("survey_started", "11:02:02", {}),
           ("rated", "11:02:20", {"level": None, "outcome": "no_input"}), ("hangup", "11:02:22", {})],
    # R4: the caller hung up first: never surveyed
    "R4": [("decided", "12:00:00", decided()), ("queued", "12:00:00", {"queue": "hl-general"}),
           ("answered", "12:00:01", {"agent": "1002", "hold_s": 1}), ("hangup", "12:01:01", {})],
    # C1: nobody logged in; called back twice (no answer, then connected) the next day
    "C1": [("decided", "20:00:00", decided()), ("queued", "20:00:00", {"queue": "hl-general"}),
           ("queue_result", "20:00:01", {"status": "JOINEMPTY"}),
           ("callback_requested", "20:00:05", {}), ("hangup", "20:00:06", {}),
           ("callback_dialled", "+1d 08:00:00", {"callback": 1}),
           ("callback_outcome", "+1d 08:00:40", {"outcome": "no_answer", "state": "pending"}),
           ("callback_dialled", "+1d 08:10:40", {"callback": 1}),
           ("callback_outcome", "+1d 08:12:00", {"outcome": "connected", "state": "done"})],
    # C2: abandoned after 30 s; called back once, busy
    "C2": [("decided", "21:00:00", decided()), ("queued", "21:00:00", {"queue": "hl-general"}),
           ("hangup", "21:00:30", {}), ("callback_dialled", "21:01:00", {"callback": 2}),
           ("callback_outcome", "21:01:05", {"outcome": "busy", "state": "pending"})],
}


def after_facts() -> list[CallFacts]:
    out = [facts_of(cid, [{"call_id": cid, "step": step, "at": at(clock).isoformat(), **data}
                          for step, clock, data in steps]) for cid, steps in AFTER.items()]
    return [f for f in out if f is not None]


def test_satisfaction_and_callbacks_after_the_call() -> None:
    by_id = {f.call_id: f for f in after_facts()}
    assert by_id["R1"].talk_s == 300.0  # the rating prompt is not talk time
    assert (by_id["R1"].surveyed, by_id["R1"].rating) == (True, 2)
    assert (by_id["R3"].surveyed, by_id["R3"].rating) == (True, None)
    assert (by_id["R4"].surveyed, by_id["R4"].rating) == (False, None)
    assert (by_id["C1"].callbacks_made, by_id["C1"].callback_connected) == (2, True)
    assert by_id["C2"].abandoned and by_id["C2"].callbacks_made == 1
    k = compute(after_facts())
    assert (k.surveyed, k.rated, k.bad_ratings) == (3, 2, 1)
    assert k.rated_share == pytest.approx(2 / 3)
    assert k.ratings == {"2": 1, "5": 1}
    assert k.satisfaction == pytest.approx(0.5)
    assert (k.callbacks_made, k.callbacks_connected) == (3, 1)
    assert k.callbacks_requested == 1
    by_agent = grouped(after_facts(), "agent")
    assert by_agent["1001"].satisfaction == 1.0 and by_agent["1002"].satisfaction == 0.0
    empty = compute([])
    assert empty.satisfaction is None and empty.rated_share is None and empty.ratings == {}
