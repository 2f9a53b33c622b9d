"""Satisfaction over a set of ratings: by agent, skill and line, with the distribution.

satisfaction = (非常满意 + 满意 + 基本满意) / rated calls; calls not rated count in
``surveyed`` and ``not_rated`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ivr.ratings.model import Rating
from ivr.ratings.parser import LABELS, Level


@dataclass
class Satisfaction:
    """The ratings of one group (an agent, a skill, a line, or everything)."""

    key: str
    surveyed: int = 0
    counts: dict[Level, int] = field(default_factory=lambda: dict.fromkeys(Level, 0))

    def add(self, rating: Rating) -> None:
        self.surveyed += 1
        if rating.level is not None:
            self.counts[rating.level] += 1

    @property
    def rated(self) -> int:
        return sum(self.counts.values())

    @property
    def not_rated(self) -> int:
        return self.surveyed - self.rated

    @property
    def satisfied(self) -> int:
        return sum(n for level, n in self.counts.items() if not level.is_bad)

    @property
    def satisfaction(self) -> float | None:
        """Satisfied over rated, None when nobody rated."""
        return self.satisfied / self.rated if self.rated else None

    @property
    def rated_share(self) -> float | None:
        return self.rated / self.surveyed if self.surveyed else None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "surveyed": self.surveyed, "rated": self.rated,
                "not_rated": self.not_rated, "satisfaction": self.satisfaction,
                "distribution": {LABELS[level]: n for level, n in self.counts.items()}}


def satisfaction(ratings: Iterable[Rating], key: Callable[[Rating], str | None] = lambda _: "all"
                 ) -> list[Satisfaction]:
    """One :class:`Satisfaction` per value of ``key`` (``-`` for none), sorted by key."""
    groups: dict[str, Satisfaction] = {}
    for rating in ratings:
        name = key(rating) or "-"
        groups.setdefault(name, Satisfaction(name)).add(rating)
    return [groups[name] for name in sorted(groups)]


BY: dict[str, Callable[[Rating], str | None]] = {
    "agent": lambda r: r.agent,
    "skill": lambda r: r.skill,
    "line": lambda r: r.line,
}
