"""The calls of a period, read from the call store (the one place reports do I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ivr.core.callstore import CallQuery, CallStoreReader
from ivr.reports.facts import CallFacts, facts_of

PAGE = 5_000  # calls read per query


def period_facts(path: Path, since: datetime, until: datetime,
                 page: int = PAGE) -> Iterator[CallFacts]:
    """Every call that started in ``[since, until)``, oldest first, a page at a time."""
    reader = CallStoreReader(path)
    offset = 0
    while True:
        records = reader.calls(CallQuery(since=since, until=until, limit=page, offset=offset))
        for record in records:
            facts = facts_of(record.call_id, record.steps)
            if facts is not None:
                yield facts
        if len(records) < page:
            return
        offset += page
