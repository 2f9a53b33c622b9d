"""What the callback feature reads from the ACD, as protocols (features never import the
ACD package; the composition root passes the ACD's tracker in)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Protocol

from ivr.ami.codec import AmiMessage
from ivr.callbacks.scheduler import FreeAgent
from ivr.core.queues import QUEUE_PREFIX

AVAILABLE = "available"


class AgentView(Protocol):
    """One agent as the ACD sees it."""

    @property
    def agent_id(self) -> str: ...
    @property
    def interface(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def paused(self) -> bool: ...
    @property
    def queues(self) -> Collection[str]: ...
    @property
    def since(self) -> datetime | None: ...


class QueueView(Protocol):
    """One queue's waiting callers (uniqueid -> joined at)."""

    @property
    def waiting(self) -> Mapping[str, datetime]: ...


class MetricsView(Protocol):
    """The queues by name."""

    @property
    def queues(self) -> Mapping[str, QueueView]: ...


class AcdView(Protocol):
    """The ACD's live view (agent_pool's ``AcdTracker`` is one)."""

    @property
    def agents(self) -> Mapping[str, AgentView]: ...
    @property
    def metrics(self) -> MetricsView: ...


class AmiPort(Protocol):
    """The AMI actions the dialler sends (``AmiConnection`` has them)."""

    async def action(self, action: str, fields: dict[str, str] | None = None,
                     variables: dict[str, str] | None = None) -> AmiMessage: ...

    async def action_list(self, action: str,
                          fields: dict[str, str] | None = None) -> list[AmiMessage]: ...


def free_agents(acd: AcdView, busy: Collection[str]) -> list[FreeAgent]:
    """Agents available in at least one ACD queue, not paused, not in ``busy`` (ids)."""
    out = []
    for status in acd.agents.values():
        if status.state != AVAILABLE or status.paused or status.agent_id in busy:
            continue
        skills = frozenset(q.removeprefix(QUEUE_PREFIX) for q in status.queues
                           if q.startswith(QUEUE_PREFIX))
        if skills:
            out.append(FreeAgent(status.agent_id, status.interface, skills, status.since))
    return out


def waiting_since(acd: AcdView) -> dict[str, datetime]:
    """Per skill, when the longest-waiting caller joined its queue (skills with callers only)."""
    out: dict[str, datetime] = {}
    for name, queue in acd.metrics.queues.items():
        if name.startswith(QUEUE_PREFIX) and queue.waiting:
            out[name.removeprefix(QUEUE_PREFIX)] = min(queue.waiting.values())
    return out
