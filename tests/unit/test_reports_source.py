"""Where figures from other stores (ratings, callbacks) join a report's calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.core.callstore.bulk import bulk_load
from ivr.core.callstore.schema import step_row
from ivr.reports.source import period_facts

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_extras_land_in_each_calls_facts_page_by_page(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    bulk_load(db, (step_row(f"c{i}", "decided", T0 + timedelta(minutes=i), {"number": "12345"})
                   for i in range(5)))
    asked: list[list[str]] = []

    def ratings(ids: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        asked.append(list(ids))
        return {"c1": {"rating": 5}, "c3": {"rating": 2}}

    def callbacks(ids: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        return {"c3": {"callbacks_made": 1, "callback_connected": True}}

    facts = list(period_facts(db, T0, T0 + timedelta(hours=1), page=2,
                              extras=(ratings, callbacks)))
    assert [f.call_id for f in facts] == ["c0", "c1", "c2", "c3", "c4"]
    assert asked == [["c0", "c1"], ["c2", "c3"], ["c4"]]  # one lookup per page
    assert facts[1].extra == {"rating": 5}
    assert facts[3].extra == {"rating": 2, "callbacks_made": 1, "callback_connected": True}
    assert facts[0].extra == {} and facts[4].extra == {}
