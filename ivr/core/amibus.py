"""AMI fan-out: each AMI event goes to the features that registered for it.

Inline handlers run in the AMI reader, in registration order, and must not block.
Async handlers each get a bounded queue and a consumer task (supervised), so one
feature's slow step (a call-store read) never delays the reader or another feature,
and each feature still sees its events in order.  A handler's exception is logged
and the event skipped; it never ends the AMI session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ivr.ami.codec import AmiMessage
from ivr.core.features import AmiSubscription, Feature
from ivr.core.supervisor import TaskSpec

log = logging.getLogger(__name__)

QUEUE_LIMIT = 20_000


@dataclass
class _Inline:
    feature: str
    events: frozenset[str] | None
    handle: Callable[[AmiMessage], None]


@dataclass
class _Queued:
    feature: str
    events: frozenset[str] | None
    handle: Callable[[AmiMessage], Awaitable[None]]
    queue: asyncio.Queue[AmiMessage]
    dropped: int = 0


class AmiBus:
    """Routes AMI events to feature subscriptions."""

    def __init__(self) -> None:
        self._inline: list[_Inline] = []
        self._queued: list[_Queued] = []
        self.received = 0

    def add(self, feature: Feature) -> list[TaskSpec]:
        """Take a feature's subscriptions; returns the consumer tasks to supervise."""
        tasks: list[TaskSpec] = []
        for sub in feature.ami:
            tasks.extend(self._add(feature.name, sub))
        return tasks

    def _add(self, name: str, sub: AmiSubscription) -> list[TaskSpec]:
        if sub.inline is not None:
            self._inline.append(_Inline(name, sub.events, sub.inline))
        if sub.queued is None:
            return []
        queued = _Queued(name, sub.events, sub.queued, asyncio.Queue(QUEUE_LIMIT))
        self._queued.append(queued)
        return [TaskSpec(f"ami-{name}-{len(self._queued)}", lambda: self._consume(queued))]

    def feed(self, event: AmiMessage) -> None:
        """Hand one AMI event to every subscription that wants it."""
        self.received += 1
        name = event.event
        for inline in self._inline:
            if inline.events is None or name in inline.events:
                try:
                    inline.handle(event)
                except Exception:
                    log.exception("%s failed on AMI event %s", inline.feature, name)
        for queued in self._queued:
            if queued.events is None or name in queued.events:
                try:
                    queued.queue.put_nowait(event)
                except asyncio.QueueFull:
                    queued.dropped += 1
                    if queued.dropped % 1000 == 1:
                        log.error("%s is %d AMI events behind; dropping (%d so far)",
                                  queued.feature, queued.queue.qsize(), queued.dropped)

    @staticmethod
    async def _consume(queued: _Queued) -> None:
        while True:
            event = await queued.queue.get()
            try:
                await queued.handle(event)
            except Exception:
                log.exception("%s failed on AMI event %s", queued.feature, event.event)

    def backlog(self) -> dict[str, int]:
        """Events waiting per async subscription."""
        return {q.feature: q.queue.qsize() for q in self._queued}
