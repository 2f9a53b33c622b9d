"""The callback scheduler: place in line, attempts and spacing, quiet hours, once per period,
expiry, free agents and concurrency (pure logic)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ivr.callbacks.model import CallbackState, Entry, Reason
from ivr.callbacks.scheduler import FreeAgent, plan, quiet_until
from ivr.config.callbacks import CallbackRules, QuietHours

TZ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2025, 3, 3, 12, 0, tzinfo=TZ)
AGENT = FreeAgent("2001", "PJSIP/agent-1001", frozenset({"general"}), NOON - timedelta(minutes=5))


def entry(id_: int, minutes_ago: float, number: str = "", skill: str = "general",
          **fields: Any) -> Entry:
    return Entry(id=id_, call_id=f"c{id_}", number=number or f"1380000{id_:04d}", skill=skill,
                 reason=Reason.ABANDONED, requested_at=NOON - timedelta(minutes=minutes_ago),
                 **fields)


def rules(**fields: Any) -> CallbackRules:
    return CallbackRules.model_validate({"quiet_hours": None, **fields})


def dialled(result: Any) -> list[tuple[int, str]]:
    return [(e.id, a.agent_id) for e, a in result.dial]


def test_the_oldest_request_is_dialled_first_with_the_longest_idle_agent() -> None:
    fresh = FreeAgent("2002", "PJSIP/agent-1002", frozenset({"general"}), NOON)
    result = plan([entry(2, 1), entry(1, 5)], 0, [fresh, AGENT], {}, {}, NOON, rules(), TZ)
    assert dialled(result) == [(1, "2001"), (2, "2002")]


def test_one_agent_one_entry_and_the_rest_wait_for_an_agent() -> None:
    result = plan([entry(1, 5), entry(2, 1)], 0, [AGENT], {}, {}, NOON, rules(), TZ)
    assert dialled(result) == [(1, "2001")]
    assert result.held == {2: "no free agent with skill general"}


def test_only_agents_with_the_entry_skill() -> None:
    result = plan([entry(1, 5, skill="tax")], 0, [AGENT], {}, {}, NOON, rules(), TZ)
    assert result.dial == []
    assert result.held[1] == "no free agent with skill tax"


def test_in_line_waits_behind_older_queued_callers_only() -> None:
    older = {"general": NOON - timedelta(minutes=10)}
    newer = {"general": NOON - timedelta(minutes=1)}
    pending = [entry(1, 5)]
    assert plan(pending, 0, [AGENT], older, {}, NOON, rules(), TZ).dial == []
    assert dialled(plan(pending, 0, [AGENT], newer, {}, NOON, rules(), TZ)) == [(1, "2001")]


def test_when_idle_waits_for_an_empty_queue() -> None:
    newer = {"general": NOON - timedelta(minutes=1)}
    result = plan([entry(1, 5)], 0, [AGENT], newer, {}, NOON, rules(place="when_idle"), TZ)
    assert result.dial == []
    assert "when_idle" in result.held[1]


def test_attempts_are_spaced() -> None:
    tried = entry(1, 30, attempts=1, last_attempt_at=NOON - timedelta(seconds=599))
    result = plan([tried], 0, [AGENT], {}, {}, NOON, rules(retry_after_s=600), TZ)
    assert result.dial == [] and result.held[1].startswith("attempt 2 not before")
    later = NOON + timedelta(seconds=1)
    assert dialled(plan([tried], 0, [AGENT], {}, {}, later, rules(retry_after_s=600), TZ)) \
        == [(1, "2001")]


def test_quiet_hours_hold_every_entry_until_they_end() -> None:
    night = datetime(2025, 3, 3, 22, 30, tzinfo=TZ)
    quiet = rules(quiet_hours={"start": "21:00", "end": "08:00"})
    pending = [entry(1, 5)]
    result = plan(pending, 0, [AGENT], {}, {}, night, quiet, TZ)
    assert result.dial == [] and result.held[1] == "quiet hours until 03-04 08:00:00"
    morning = datetime(2025, 3, 4, 8, 0, tzinfo=TZ)
    assert dialled(plan(pending, 0, [AGENT], {}, {}, morning, quiet, TZ)) == [(1, "2001")]


def test_quiet_hours_within_a_day_and_across_midnight() -> None:
    span = QuietHours(start="12:00", end="14:00")
    assert quiet_until(NOON, span, TZ) == NOON.replace(hour=14)
    assert quiet_until(NOON.replace(hour=14), span, TZ) is None
    night = QuietHours(start="21:00", end="08:00")
    early = datetime(2025, 3, 4, 7, 59, tzinfo=TZ)
    assert quiet_until(early, night, TZ) == early.replace(hour=8, minute=0)
    assert quiet_until(NOON, night, TZ) is None
    # the clock may run in UTC: quiet hours are the region's local time
    utc = datetime(2025, 3, 3, 14, 0, tzinfo=ZoneInfo("UTC"))  # 22:00 in Beijing
    assert quiet_until(utc, night, TZ) is not None


def test_a_number_is_called_back_once_per_period() -> None:
    number = "13800009999"
    last = {number: NOON - timedelta(hours=3)}
    pending = [entry(1, 5, number=number)]
    held = plan(pending, 0, [AGENT], {}, last, NOON, rules(once_per_h=24), TZ)
    assert held.dial == [] and "again after" in held.held[1]
    assert dialled(plan(pending, 0, [AGENT], {}, last, NOON, rules(once_per_h=2), TZ)) \
        == [(1, "2001")]
    assert dialled(plan(pending, 0, [AGENT], {}, last, NOON, rules(once_per_h=0), TZ)) \
        == [(1, "2001")]


def test_old_entries_expire() -> None:
    old = entry(1, 25 * 60)
    result = plan([old, entry(2, 1)], 0, [AGENT], {}, {}, NOON, rules(expire_after_h=24), TZ)
    assert [e.id for e in result.expire] == [1]
    assert dialled(result) == [(2, "2001")]


def test_max_concurrent_counts_the_entries_already_dialling() -> None:
    agents = [AGENT, FreeAgent("2002", "PJSIP/agent-1002", frozenset({"general"}))]
    result = plan([entry(1, 5), entry(2, 4)], 1, agents, {}, {}, NOON,
                  rules(max_concurrent=2), TZ)
    assert dialled(result) == [(1, "2001")]
    assert "max_concurrent" in result.held[2]


def test_disabled_dials_nothing() -> None:
    result = plan([entry(1, 5)], 0, [AGENT], {}, {}, NOON, rules(enabled=False), TZ)
    assert result.dial == [] and result.held[1] == "callbacks.enabled is false"


def test_only_pending_entries_are_planned() -> None:
    dialling = entry(1, 5, state=CallbackState.DIALLING)
    assert plan([dialling], 0, [AGENT], {}, {}, NOON, rules(), TZ).dial == []
