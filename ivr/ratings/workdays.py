"""Working days: weekends and configured holidays are off, configured make-up days (调休,
a Saturday or Sunday worked instead) are on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    makeup_days: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, holidays: Iterable[date] = (), makeup_days: Iterable[date] = ()) -> WorkCalendar:
        """A calendar from any iterables of dates."""
        return cls(frozenset(holidays), frozenset(makeup_days))

    def is_working(self, day: date) -> bool:
        """Monday to Friday unless a holiday; a make-up day always."""
        if day in self.makeup_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself never counts):
        a rating on Friday with 5 days is due the next Friday."""
        if count < 0:
            raise ValueError("count must be 0 or more")
        day = start
        left = count
        while left:
            day += timedelta(days=1)
            if self.is_working(day):
                left -= 1
        return day
