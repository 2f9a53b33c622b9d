"""Follow-up due dates in working days: weekends, holidays and make-up days (调休)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.ratings.service import due_date
from ivr.ratings.settings import FollowUpRules
from ivr.ratings.workdays import WorkCalendar

PLAIN = WorkCalendar()
# 2024 National Day: 1-7 October off (1-4 and 7 are weekdays), 29 Sep and 12 Oct worked
NATIONAL_DAY = WorkCalendar.of(
    holidays=[date(2024, 10, d) for d in (1, 2, 3, 4, 7)],
    makeup_days=[date(2024, 9, 29), date(2024, 10, 12)])


def test_weekdays_only() -> None:
    assert PLAIN.add_working_days(date(2024, 9, 2), 5) == date(2024, 9, 9)  # Monday -> Monday
    assert PLAIN.add_working_days(date(2024, 9, 6), 5) == date(2024, 9, 13)  # Friday -> Friday
    assert PLAIN.add_working_days(date(2024, 9, 4), 1) == date(2024, 9, 5)


def test_a_rating_at_the_weekend_counts_from_monday() -> None:
    assert PLAIN.add_working_days(date(2024, 9, 7), 1) == date(2024, 9, 9)  # Saturday
    assert PLAIN.add_working_days(date(2024, 9, 8), 5) == date(2024, 9, 13)  # Sunday


def test_holidays_are_skipped_and_makeup_days_count() -> None:
    # Friday 27 Sep: Sun 29 (调休) 1, Mon 30 2, 1-7 Oct off, Tue 8 3, Wed 9 4, Thu 10 5
    assert NATIONAL_DAY.add_working_days(date(2024, 9, 27), 5) == date(2024, 10, 10)
    # Sat 12 Oct is worked: Friday 11 + 1 working day is that Saturday
    assert NATIONAL_DAY.add_working_days(date(2024, 10, 11), 1) == date(2024, 10, 12)
    assert not NATIONAL_DAY.is_working(date(2024, 10, 7))
    assert NATIONAL_DAY.is_working(date(2024, 9, 29))


def test_zero_days_is_the_same_day_and_negative_is_refused() -> None:
    assert PLAIN.add_working_days(date(2024, 9, 2), 0) == date(2024, 9, 2)
    with pytest.raises(ValueError):
        PLAIN.add_working_days(date(2024, 9, 2), -1)


def test_due_date_uses_the_local_day_of_the_rating() -> None:
    rules = FollowUpRules(working_days=5, holidays=[date(2024, 10, d) for d in (1, 2, 3, 4, 7)],
                          makeup_days=[date(2024, 9, 29), date(2024, 10, 12)])
    # 27 Sep 23:30 UTC is Saturday 28 Sep in Beijing: counting starts from the Saturday
    late = datetime(2024, 9, 27, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert due_date(rules, late).due == date(2024, 10, 10)
    # still Friday in Beijing: Sun 29, Mon 30, Tue 8, Wed 9, Thu 10
    friday = datetime(2024, 9, 27, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert due_date(rules, friday).due == date(2024, 10, 10)
    monday = datetime(2024, 9, 30, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert due_date(rules, monday).due == date(2024, 10, 12)  # 8, 9, 10, 11, Sat 12 (调休)
