"""Supervised tasks: a failing background task is logged, backed off and restarted.

``async with Supervisor(...) as sup: sup.start(TaskSpec("acd-snapshot", factory))``.
A long-lived task that raises, or returns when it should run forever, is started
again after an exponential back-off (reset once it has run for a while); a task
that keeps failing keeps being retried at the longest back-off, never given up on,
because the controller must outlive any one of its parts.  ``spawn`` runs one-shot
work (a feature-code transfer) whose failure is logged and forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from ivr.core.events import EventStream, TaskRestarted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskSpec:
    """A long-lived task: a name and a factory that makes a fresh coroutine each start."""

    name: str
    factory: Callable[[], Awaitable[None]]


@dataclass
class TaskHealth:
    """What the supervisor knows about one task (for logs, metrics and tests)."""

    name: str
    starts: int = 0
    restarts: int = 0
    last_error: str | None = None
    running: bool = False
    history: list[str] = field(default_factory=list)


class Supervisor:
    """Runs named tasks and restarts them; never lets one task's failure stop the others."""

    def __init__(self, stream: EventStream | None = None, *, backoff_s: float = 0.2,
                 backoff_max_s: float = 10.0, healthy_after_s: float = 30.0) -> None:
        self._stream = stream
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._healthy_after_s = healthy_after_s
        self._group: asyncio.TaskGroup | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._attempts: dict[str, asyncio.Future[None]] = {}
        self.health: dict[str, TaskHealth] = {}

    async def __aenter__(self) -> Supervisor:
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        group, self._group = self._group, None
        if group is None:
            return
        if exc_type is None:  # the body ended normally: stop everything still running
            for task in self._tasks.values():
                task.cancel()
        await group.__aexit__(exc_type, exc, tb)

    def start(self, spec: TaskSpec) -> None:
        """Run ``spec`` under supervision until the supervisor closes."""
        if self._group is None:
            raise RuntimeError("the supervisor is not running")
        self.health.setdefault(spec.name, TaskHealth(spec.name))
        self._tasks[spec.name] = self._group.create_task(self._keep(spec), name=spec.name)

    def task(self, name: str) -> asyncio.Task[None] | None:
        """The asyncio task running under ``name`` (its supervising wrapper)."""
        return self._tasks.get(name)

    def restart(self, name: str) -> bool:
        """Stop the current run of a task as if it had failed; the supervisor starts it again.

        For operators (a wedged task) and for tests that prove every task comes back.
        """
        attempt = self._attempts.get(name)
        if attempt is None or attempt.done():
            return False
        attempt.cancel(f"restart of {name} requested")
        return True

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run one-shot work; its failure is logged, never propagated, never restarted."""
        if self._group is None:
            work.close()
            log.warning("background work %s dropped: the controller is stopping", name)
            return

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("background task %s failed", name)

        self._group.create_task(guarded(), name=name)

    async def _keep(self, spec: TaskSpec) -> None:
        health = self.health[spec.name]
        delay = self._backoff_s
        while True:
            started = time.monotonic()
            health.starts += 1
            health.running = True
            attempt = self._attempts[spec.name] = asyncio.ensure_future(spec.factory())
            attempt.add_done_callback(_retrieve)
            try:
                await asyncio.shield(attempt)
                reason = "returned"
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():  # the supervisor is stopping
                    attempt.cancel()
                    await asyncio.wait([attempt])  # let its cleanup run before we go
                    health.running = False
                    raise
                reason = "restart requested"
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.exception("task %s failed", spec.name)
            health.running = False
            health.last_error = reason
            health.restarts += 1
            health.history.append(reason)
            del health.history[:-20]
            if time.monotonic() - started >= self._healthy_after_s:
                delay = self._backoff_s
            log.error("task %s %s; restarting in %.1f s (restart %d)", spec.name, reason, delay,
                      health.restarts)
            if self._stream is not None:
                self._stream.publish(TaskRestarted(at=datetime.now(UTC), task=spec.name,
                                                   error=reason, restarts=health.restarts))
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max_s)


def _retrieve(attempt: asyncio.Future[None]) -> None:
    """Mark an attempt's exception as seen (the supervisor logs it where it awaits)."""
    if not attempt.cancelled():
        attempt.exception()
