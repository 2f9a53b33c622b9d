"""The engine's Prometheus metrics, fed from the event stream (no I/O but the ACD snapshot
read at scrape time).

Names start with ``hotline_``; label values are bounded (line modes, phases, outcomes,
skills and task names from the configuration and the code); no caller data.
"""

from __future__ import annotations

import json
import logging
from collections import Counter as Tally
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ivr.core.events import (
    AgentStateChanged,
    CallDecided,
    CallEvent,
    Event,
    TaskRestarted,
    WorkOrderCreated,
)

log = logging.getLogger(__name__)

#: calls remembered between their decision and their hangup (oldest forgotten beyond this)
MAX_LIVE_CALLS = 50_000
#: an ACD snapshot older than this is not exported (the ACD feature writes it every second)
SNAPSHOT_MAX_AGE_S = 5.0
OUTCOMES = ("answered", "abandoned", "connected", "callback", "fallback", "unanswered")
_DECISION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BUDGET_BUCKETS = (1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 30.0)


def _label(value: object, allowed: tuple[str, ...] | None = None) -> str:
    """A bounded label value: known values as they are, anything else ``other``."""
    text = str(value) if value not in (None, "") else "none"
    if allowed is not None and text not in allowed:
        return "other"
    return text if len(text) <= 40 and text.replace("_", "").replace("-", "").isalnum() else "other"


class _Call:
    __slots__ = ("mode", "outcome", "phase")

    def __init__(self, mode: str, phase: str) -> None:
        self.mode, self.phase = mode, phase
        self.outcome: str | None = None


class HotlineMetrics:
    """Every ``hotline_*`` metric in one registry (its own, so tests can build many)."""

    def __init__(self, now: Callable[[], datetime], snapshot_path: Path | None = None,
                 target_s: float = 15.0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._now = now
        self._target_s = target_s
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._waiting: dict[str, str] = {}  # call id -> skill, while in a queue
        r = self.registry
        self.decided = Counter("hotline_calls_decided", "Calls routed, by line mode and phase",
                               ["mode", "phase"], registry=r)
        self.calls = Counter("hotline_calls", "Calls ended, by line mode, phase and outcome",
                             ["mode", "phase", "outcome"], registry=r)
        self.decision_latency = Histogram(
            "hotline_decision_latency_seconds",
            "FastAGI route request to decision set on the channel", buckets=_DECISION_BUCKETS,
            registry=r)
        self.fallbacks = Counter("hotline_fastagi_fallbacks",
                                 "Calls the dialplan sent to the fallback desk", registry=r)
        self.queued = Counter("hotline_queue_entered", "Calls that joined an ACD queue",
                              ["skill"], registry=r)
        self.answered = Counter("hotline_queue_answered",
                                "Queued calls answered by an agent, within the answer target or not",
                                ["skill", "within_target"], registry=r)
        self.abandoned = Counter("hotline_queue_abandoned",
                                 "Callers who hung up while queued", ["skill"], registry=r)
        self.wait = Histogram("hotline_queue_wait_seconds", "Wait of answered queued calls",
                              ["skill"], buckets=(5, 10, 15, 20, 30, 45, 60, 120, 300), registry=r)
        self.callbacks = Counter("hotline_callbacks_requested",
                                 "Callers promised a call back", registry=r)
        self.transfers = Counter("hotline_transfers", "Transfers ended, by outcome",
                                 ["outcome"], registry=r)
        self.workorders = Counter("hotline_workorders_created", "Work orders filed, by reason",
                                  ["reason"], registry=r)
        self.listening = Counter("hotline_listening_outcomes",
                                 "Speech pre-classification results, by outcome", ["outcome"],
                                 registry=r)
        self.listening_budget = Histogram(
            "hotline_listening_budget_used_seconds", "Answer to speech routing decision",
            buckets=_BUDGET_BUCKETS, registry=r)
        self.agent_changes = Counter("hotline_agent_state_changes",
                                     "Agent state changes, by the state entered", ["state"],
                                     registry=r)
        self.restarts = Counter("hotline_task_restarts", "Supervised controller task restarts",
                                ["task"], registry=r)
        self.events_dropped = Gauge("hotline_metrics_events_dropped",
                                    "Events the metrics subscriber lost to a full queue",
                                    registry=r)
        if snapshot_path is not None:
            r.register(AcdSnapshotCollector(snapshot_path, now))

    # -- inline (inside publish): cheap, never blocks ----------------------------------
    def on_decided(self, event: Event) -> None:
        """Decision latency: the ``decided`` step is published once the variables are set;
        its ``at`` is when the request came in."""
        if isinstance(event, CallDecided):
            elapsed = (self._now() - event.at).total_seconds()
            if elapsed >= 0:
                self.decision_latency.observe(elapsed)

    # -- queued subscriber ----------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """Count one event."""
        if isinstance(event, CallEvent):
            self._call_step(event.call_id, event.step, event.data)
        elif isinstance(event, WorkOrderCreated):
            self.workorders.labels(_label(event.reason)).inc()
        elif isinstance(event, AgentStateChanged):
            self.agent_changes.labels(_label(event.state)).inc()
        elif isinstance(event, TaskRestarted):
            self.restarts.labels(_label(event.task.split("/")[0])).inc()

    def _call_step(self, call_id: str, step: str, data: Any) -> None:
        call = self._calls.get(call_id)
        if step == "decided":
            mode, phase = _label(data.get("mode")), _label(data.get("phase"))
            self.decided.labels(mode, phase).inc()
            self._calls[call_id] = _Call(mode, phase)
            while len(self._calls) > MAX_LIVE_CALLS:
                self._calls.popitem(last=False)
            return
        skill = _label(str(data.get("queue") or "").removeprefix("hl-") or None)
        if step == "queued":
            self.queued.labels(skill).inc()
        elif step == "answered":
            hold = data.get("hold_s")
            within = "unknown"
            if isinstance(hold, int | float):
                within = "true" if hold <= self._target_s else "false"
                self.wait.labels(skill).observe(float(hold))
            self.answered.labels(skill, within).inc()
            self._outcome(call, "answered")
        elif step == "queue_result":
            if str(data.get("status", "")).upper() == "ABANDON":
                self.abandoned.labels(skill).inc()
                self._outcome(call, "abandoned")
        elif step == "dial_result" and data.get("status") == "ANSWER":
            self._outcome(call, "connected")
        elif step == "fallback":
            self.fallbacks.inc()
            self._outcome(call, "fallback")
        elif step == "callback_requested":
            self.callbacks.inc()
            self._outcome(call, "callback")
        elif step == "classified":
            self.listening.labels(_label(data.get("outcome"))).inc()
            used = data.get("budget_used_ms")
            if isinstance(used, int | float):
                self.listening_budget.observe(used / 1000)
        elif step == "transfer_failed":
            self.transfers.labels(_label(data.get("outcome"))).inc()
        elif step == "transfer_answered":
            self.transfers.labels("answered").inc()
        elif step == "transfer_cancelled":
            self.transfers.labels("cancelled").inc()
        elif step == "hangup":
            queued_skill = self._waiting.pop(call_id, None)
            self._calls.pop(call_id, None)
            if queued_skill is not None and (call is None or call.outcome not in ("answered",
                                                                                  "connected")):
                self.abandoned.labels(queued_skill).inc()
                self._outcome(call, "abandoned")
            if call is not None:
                self.calls.labels(call.mode, call.phase, call.outcome or "unanswered").inc()
            return
        if step == "queued":
            self._waiting[call_id] = skill
        elif step in ("answered", "queue_result", "fallback"):
            self._waiting.pop(call_id, None)

    @staticmethod
    def _outcome(call: _Call | None, outcome: str) -> None:
        """A call's outcome: answered by an agent wins over everything (the queue's own
        dial to the agent's phone reports ANSWER first), then connected (a dialled target
        answered); an abandon after an answer (back in a queue after a transfer) does not
        undo either."""
        if call is None or call.outcome == "answered":
            return
        if call.outcome == "connected" and outcome != "answered":
            return
        call.outcome = outcome


class QueueBacklogCollector(Collector):
    """The MQTT publisher's backlog, where MQTT is on: events buffered for the broker, the
    ones dropped when the buffer was full, and whether the broker session is up."""

    def __init__(self, backlog: Callable[[], int], dropped: Callable[[], int],
                 connected: Callable[[], bool]) -> None:
        self._backlog, self._dropped, self._connected = backlog, dropped, connected

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        backlog = GaugeMetricFamily("hotline_mqtt_backlog_events",
                                    "Events buffered for the MQTT broker")
        backlog.add_metric([], float(self._backlog()))
        dropped = CounterMetricFamily("hotline_mqtt_events_dropped",
                                      "Events the MQTT buffer dropped (full while the broker was away)")
        dropped.add_metric([], float(self._dropped()))
        up = GaugeMetricFamily("hotline_mqtt_connected", "1 when the MQTT session is up")
        up.add_metric([], 1.0 if self._connected() else 0.0)
        yield from (backlog, dropped, up)


class WorkOrderBacklogCollector(Collector):
    """Work orders no department has acknowledged yet (open or sent), per department,
    read from the work-order store at scrape time (the scrape runs in a thread)."""

    def __init__(self, counts: Callable[[], dict[str, int]],
                 departments: Callable[[], tuple[str, ...]]) -> None:
        self._counts = counts
        self._departments = departments

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("hotline_workorders_awaiting_ack",
                                  "Work orders not yet acknowledged by their department "
                                  "(open or sent), per department", labels=["department"])
        known = self._departments()
        try:
            counts = self._counts()
        except Exception:  # a locked or missing store: no sample rather than a failed scrape
            log.warning("metrics: the work-order store could not be read", exc_info=True)
            counts = None
        if counts is not None:
            merged: Tally[str] = Tally({name: 0 for name in known})
            for name, n in counts.items():
                merged[_label(name, (*known, "none"))] += n
            for name, n in sorted(merged.items()):
                gauge.add_metric([name], float(n))
        yield gauge


class AcdSnapshotCollector(Collector):
    """Queues and agents from the ACD's snapshot (``acd.json``, rewritten every second by
    the ``acd`` feature), read at scrape time: waiting callers and the longest wait, the
    service level and agents by state, per skill."""

    def __init__(self, path: Path, now: Callable[[], datetime]) -> None:
        self._path = path
        self._now = now

    def _read(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._path.read_text(encoding="utf-8"))
            at = datetime.fromisoformat(str(data["at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if abs((self._now() - at).total_seconds()) > SNAPSHOT_MAX_AGE_S:
            return None
        return data

    def collect(self) -> Iterator[GaugeMetricFamily]:
        data = self._read()
        waiting = GaugeMetricFamily("hotline_queue_waiting_calls", "Callers waiting now, per skill",
                                    labels=["skill"])
        longest = GaugeMetricFamily("hotline_queue_longest_wait_seconds",
                                    "Longest current wait, per skill", labels=["skill"])
        level = GaugeMetricFamily("hotline_queue_service_level_ratio",
                                  "Answered within the target over answered plus abandoned, "
                                  "since the controller started, per skill", labels=["skill"])
        agents = GaugeMetricFamily("hotline_agents", "Logged-in agents by state, per skill",
                                   labels=["skill", "state"])
        up = GaugeMetricFamily("hotline_acd_snapshot_up", "1 when the ACD snapshot is fresh")
        up.add_metric([], 1.0 if data is not None else 0.0)
        if data is not None:
            for row in data.get("queues") or []:
                skill = _label(str(row.get("queue", "")).removeprefix("hl-"))
                waiting.add_metric([skill], float(row.get("waiting") or 0))
                longest.add_metric([skill], float(row.get("longest_wait_s") or 0))
                if row.get("service_level") is not None:
                    level.add_metric([skill], float(row["service_level"]))
            by_skill: Tally[tuple[str, str]] = Tally()
            for agent in data.get("agent_list") or []:
                for queue in agent.get("queues") or []:
                    by_skill[(_label(str(queue).removeprefix("hl-")), _label(agent.get("state")))] += 1
            for (skill, state), n in sorted(by_skill.items()):
                agents.add_metric([skill, state], float(n))
        yield from (waiting, longest, level, agents, up)
