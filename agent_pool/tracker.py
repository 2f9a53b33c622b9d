"""AMI event adapter for the ACD: agent states and queue metrics from Asterisk's own events.

Asterisk (app_queue) is the source of truth; this view is rebuilt from a
``QueueStatus`` listing on every AMI (re)connect, so a controller restart loses
nothing but the counters since it started.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from agent_pool.metrics import AcdMetrics
from agent_pool.state import AgentState, AgentStatus, IllegalAgentTransition
from ivr.ami.codec import AmiMessage
from ivr.config.roster import Roster
from ivr.core.queues import QUEUE_PREFIX

log = logging.getLogger(__name__)


class AcdTracker:
    """Feeds on AMI events; answers "who is in what state" and "how are the queues doing"."""

    #: the AMI events the tracker consumes
    EVENTS = frozenset({"QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause",
                        "AgentCalled", "AgentRingNoAnswer", "AgentDump", "AgentConnect",
                        "AgentComplete", "QueueCallerJoin", "QueueCallerLeave",
                        "QueueCallerAbandon"})

    def __init__(self, roster: Callable[[], Roster], wrapup_s: Callable[[], int],
                 target_s: float = 15.0,
                 on_change: Callable[[AgentStatus, AgentState], None] | None = None) -> None:
        self._roster = roster
        self._on_change = on_change
        self._wrapup_s = wrapup_s
        self.agents: dict[str, AgentStatus] = {}
        self.metrics = AcdMetrics(target_s=target_s)

    def _agent(self, event: AmiMessage) -> AgentStatus:
        interface = event.get("Interface") or event.get("Location")
        key = interface.lower()
        status = self.agents.get(key)
        if status is None:
            known = self._roster().by_interface(interface)
            agent_id = known.id if known else (event.get("MemberName") or interface)
            status = self.agents[key] = AgentStatus(agent_id, interface)
        return status

    def _move(self, status: AgentStatus, wanted: AgentState, at: datetime) -> None:
        previous = status.state
        self._follow(status, wanted, at)
        if self._on_change is not None and status.state is not previous:
            self._on_change(status, previous)

    def _follow(self, status: AgentStatus, wanted: AgentState, at: datetime) -> None:
        try:
            status.move(wanted, at)
        except IllegalAgentTransition as exc:
            # Asterisk's events are the truth: note the surprise, follow the event.
            log.warning("%s; following Asterisk", exc)
            status.state, status.since = wanted, at

    def handle(self, event: AmiMessage, now: datetime) -> None:
        """Feed one AMI event."""
        name = event.event or ""
        queue = event.get("Queue")
        if queue and not queue.startswith(QUEUE_PREFIX):
            return
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, event, now)

    def _member_added(self, event: AmiMessage, now: datetime) -> None:
        status = self._agent(event)
        status.queues.add(event.get("Queue"))
        paused = event.get("Paused") == "1"
        status.paused = paused
        status.pause_reason = event.get("PausedReason") if paused else ""
        if status.state is AgentState.LOGGED_OUT:
            self._move(status, AgentState.PAUSED if paused else AgentState.AVAILABLE, now)

    def _member_removed(self, event: AmiMessage, now: datetime) -> None:
        status = self._agent(event)
        status.queues.discard(event.get("Queue"))
        if not status.queues:
            status.paused = False
            self._move(status, AgentState.LOGGED_OUT, now)

    def _member_pause(self, event: AmiMessage, now: datetime) -> None:
        status = self._agent(event)
        paused = event.get("Paused") == "1"
        status.paused = paused
        status.pause_reason = event.get("PausedReason") if paused else ""
        if status.state in (AgentState.ON_CALL, AgentState.RINGING) and paused:
            return  # takes effect when the call ends
        if paused:
            self._move(status, AgentState.PAUSED, now)
        elif status.state is AgentState.PAUSED:
            self._move(status, AgentState.AVAILABLE, now)

    def _called(self, event: AmiMessage, now: datetime) -> None:
        self._move(self._agent(event), AgentState.RINGING, now)

    def _ring_no_answer(self, event: AmiMessage, now: datetime) -> None:
        status = self._agent(event)
        if status.state is AgentState.RINGING:
            self._move(status, AgentState.PAUSED if status.paused else AgentState.AVAILABLE, now)

    def _connect(self, event: AmiMessage, now: datetime) -> None:
        status = self._agent(event)
        self._move(status, AgentState.ON_CALL, now)
        status.calls_taken += 1
        self.metrics.answered(event.get("Queue"), event.get("Uniqueid"),
                              float(event.get("HoldTime") or 0))

    def _complete(self, event: AmiMessage, now: datetime) -> None:
        status = self._agent(event)
        if status.paused:
            self._move(status, AgentState.PAUSED, now)
        elif self._wrapup_s() > 0:
            self._move(status, AgentState.WRAP_UP, now)
        else:
            self._move(status, AgentState.AVAILABLE, now)

    def _caller_join(self, event: AmiMessage, now: datetime) -> None:
        self.metrics.joined(event.get("Queue"), event.get("Uniqueid"), now)

    def _caller_leave(self, event: AmiMessage, now: datetime) -> None:
        self.metrics.left(event.get("Queue"), event.get("Uniqueid"))

    def _caller_abandon(self, event: AmiMessage, now: datetime) -> None:
        self.metrics.abandoned(event.get("Queue"), event.get("Uniqueid"))

    def tick(self, now: datetime) -> None:
        """End wrap-ups that have run their time."""
        wrapup = timedelta(seconds=self._wrapup_s())
        for status in self.agents.values():
            if status.state is AgentState.WRAP_UP and status.since and now - status.since >= wrapup:
                self._move(status, AgentState.AVAILABLE, now)

    def resync(self, listing: Iterable[AmiMessage], now: datetime) -> None:
        """Rebuild agents and waiting callers from a ``QueueStatus`` listing."""
        previous = self.agents
        self.agents = {}
        for metrics in self.metrics.queues.values():
            metrics.waiting.clear()
        for event in listing:
            queue = event.get("Queue")
            if not queue.startswith(QUEUE_PREFIX):
                continue
            if event.event == "QueueMember":
                status = self._agent(event)
                old = previous.get(status.interface.lower())
                if old is not None:
                    status.calls_taken = old.calls_taken
                status.queues.add(queue)
                status.paused = event.get("Paused") == "1"
                status.pause_reason = event.get("PausedReason") if status.paused else ""
                in_call = event.get("InCall") == "1" or event.get("Status") in ("2", "3")
                ringing = event.get("Status") in ("6", "7")
                state = (AgentState.ON_CALL if in_call else AgentState.RINGING if ringing
                         else AgentState.PAUSED if status.paused else AgentState.AVAILABLE)
                if old is not None and old.state is state:
                    status.since = old.since
                status.state, status.since = state, status.since or now
            elif event.event == "QueueEntry":
                wait = float(event.get("Wait") or 0)
                self.metrics.queue(queue).waiting[event.get("Uniqueid")] = now - timedelta(
                    seconds=wait)
        log.info("ACD resync: %d agent(s) logged in, %d caller(s) waiting",
                 sum(1 for a in self.agents.values() if a.state is not AgentState.LOGGED_OUT),
                 sum(len(q.waiting) for q in self.metrics.queues.values()))

    def states(self) -> Counter[str]:
        """Agents by state, every roster agent included (logged out if unseen)."""
        counts: Counter[str] = Counter()
        seen = {a.interface.lower() for a in self.agents.values()}
        for status in self.agents.values():
            counts[status.state.value] += 1
        counts[AgentState.LOGGED_OUT.value] += sum(
            1 for a in self._roster().agents if a.interface.lower() not in seen)
        return counts

    def snapshot(self, now: datetime) -> dict[str, object]:
        """Metrics plus every agent's state, JSON-ready."""
        data = self.metrics.snapshot(now, self.states())
        data["agent_list"] = [a.to_json() for a in sorted(self.agents.values(),
                                                         key=lambda a: a.agent_id)]
        return data


_HANDLERS: dict[str, Callable[[AcdTracker, AmiMessage, datetime], None]] = {
    "QueueMemberAdded": AcdTracker._member_added,
    "QueueMemberRemoved": AcdTracker._member_removed,
    "QueueMemberPause": AcdTracker._member_pause,
    "AgentCalled": AcdTracker._called,
    "AgentRingNoAnswer": AcdTracker._ring_no_answer,
    "AgentDump": AcdTracker._ring_no_answer,
    "AgentConnect": AcdTracker._connect,
    "AgentComplete": AcdTracker._complete,
    "QueueCallerJoin": AcdTracker._caller_join,
    "QueueCallerLeave": AcdTracker._caller_leave,
    "QueueCallerAbandon": AcdTracker._caller_abandon,
}
