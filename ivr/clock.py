"""Injectable clocks: the live engine uses the wall clock, tests set the date."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time (timezone-aware)."""

    def now(self) -> datetime:
        """The current instant."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)


class ShiftedClock:
    """A clock that started at ``start`` and runs at normal speed from there."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the start time needs a timezone, e.g. 2021-07-01T09:00+08:00")
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> datetime:
        """``start`` plus the time elapsed since construction."""
        return self._start + timedelta(seconds=time.monotonic() - self._origin)
