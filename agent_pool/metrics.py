"""Live ACD metrics: waiting calls, longest wait, service level, abandon rate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class QueueMetrics:
    """Counters for one queue (one skill) since the controller started."""

    queue: str
    waiting: dict[str, datetime] = field(default_factory=dict)  # uniqueid -> joined at
    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    total_wait_s: float = 0.0

    def longest_wait_s(self, now: datetime) -> float:
        """How long the longest-waiting caller has waited."""
        if not self.waiting:
            return 0.0
        return max((now - joined).total_seconds() for joined in self.waiting.values())

    def to_json(self, now: datetime) -> dict[str, object]:
        """The figures a supervisor looks at."""
        handled = self.answered + self.abandoned
        return {
            "queue": self.queue,
            "waiting": len(self.waiting),
            "longest_wait_s": round(self.longest_wait_s(now), 1),
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "service_level": round(self.answered_in_target / handled, 4) if handled else None,
            "abandon_rate": round(self.abandoned / handled, 4) if handled else None,
            "avg_wait_s": round(self.total_wait_s / self.answered, 1) if self.answered else None,
        }


@dataclass
class AcdMetrics:
    """All queues, plus agents by state; service level is answered within the target."""

    target_s: float = 15.0
    queues: dict[str, QueueMetrics] = field(default_factory=dict)

    def queue(self, name: str) -> QueueMetrics:
        """The metrics of one queue (created on first use)."""
        return self.queues.setdefault(name, QueueMetrics(name))

    def joined(self, queue: str, uniqueid: str, at: datetime) -> None:
        """A caller entered a queue."""
        q = self.queue(queue)
        q.offered += 1
        q.waiting[uniqueid] = at

    def answered(self, queue: str, uniqueid: str, hold_s: float) -> None:
        """An agent took the call after ``hold_s`` seconds of waiting."""
        q = self.queue(queue)
        q.waiting.pop(uniqueid, None)
        q.answered += 1
        q.total_wait_s += hold_s
        if hold_s <= self.target_s:
            q.answered_in_target += 1

    def abandoned(self, queue: str, uniqueid: str) -> None:
        """The caller hung up while waiting."""
        q = self.queue(queue)
        q.waiting.pop(uniqueid, None)
        q.abandoned += 1

    def left(self, queue: str, uniqueid: str) -> None:
        """The caller left the queue (answered, abandoned, timed out…)."""
        self.queue(queue).waiting.pop(uniqueid, None)

    def snapshot(self, now: datetime, agent_states: Counter[str]) -> dict[str, object]:
        """Everything, JSON-ready; totals across queues first."""
        rows = [q.to_json(now) for q in sorted(self.queues.values(), key=lambda q: q.queue)]
        answered = sum(q.answered for q in self.queues.values())
        abandoned = sum(q.abandoned for q in self.queues.values())
        in_target = sum(q.answered_in_target for q in self.queues.values())
        handled = answered + abandoned
        return {
            "at": now.isoformat(),
            "service_level_target_s": self.target_s,
            "waiting": sum(len(q.waiting) for q in self.queues.values()),
            "longest_wait_s": round(max((q.longest_wait_s(now) for q in self.queues.values()),
                                        default=0.0), 1),
            "answered": answered,
            "abandoned": abandoned,
            "service_level": round(in_target / handled, 4) if handled else None,
            "abandon_rate": round(abandoned / handled, 4) if handled else None,
            "agents": dict(agent_states),
            "queues": rows,
        }
