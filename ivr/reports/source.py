"""The calls of a period, read from the call store (the one place reports do I/O).

Figures other stores hold about a call (its satisfaction rating, the callbacks made and
whether one connected) join here: an :data:`Extras` lookup, given a page of call ids,
returns each call's fields, which land in :attr:`CallFacts.extra` for the tallies
(:class:`ivr.reports.kpi.KpiTally`) to count.  The call store itself never holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.core.callstore import CallQuery, CallStoreReader
from ivr.reports.facts import CallFacts, facts_of

PAGE = 5_000  # calls read per query

#: call ids -> {call id: fields}; e.g. ``{"rating": 5}`` from the ratings store, or
#: ``{"callbacks_made": 2, "callback_connected": True}`` from the callbacks store
Extras = Callable[[Sequence[str]], Mapping[str, Mapping[str, Any]]]


def period_facts(path: Path, since: datetime, until: datetime, page: int = PAGE,
                 extras: Sequence[Extras] = ()) -> Iterator[CallFacts]:
    """Every call that started in ``[since, until)``, oldest first, a page at a time, with
    what each of ``extras`` knows about it in ``extra``."""
    reader = CallStoreReader(path)
    offset = 0
    while True:
        records = reader.calls(CallQuery(since=since, until=until, limit=page, offset=offset))
        found: dict[str, dict[str, Any]] = {}
        ids = [r.call_id for r in records]
        for lookup in extras:
            for call_id, fields in lookup(ids).items():
                found.setdefault(call_id, {}).update(fields)
        for record in records:
            facts = facts_of(record.call_id, record.steps)
            if facts is not None:
                more = found.get(record.call_id)
                yield replace(facts, extra=more) if more else facts
        if len(records) < page:
            return
        offset += page
