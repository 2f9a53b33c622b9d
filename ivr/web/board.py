"""The live state behind the wallboard and the agent desks, fed by the event stream
(pure: no I/O; the ACD snapshot is handed in by the feature).

- today's KPIs and hourly curve: each call is counted when it hangs up, with the same
  definitions as ``hotline report`` (:mod:`ivr.reports`);
- callers waiting per skill: ``queued`` until ``answered``, ``queue_result`` or ``hangup``;
- agents by state: ``AgentStateChanged`` as it happens, the ACD snapshot (every second)
  for agents that were already logged in;
- each agent's screen pop: the call offered to the agent's phone (``ringing`` to its
  interface), with line, phase, masked caller number and the speech classification, and
  the caller's earlier calls and unfinished work orders once the feature has looked them
  up (:meth:`LiveBoard.take_lookups`, :meth:`LiveBoard.set_history`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from ivr.core.events import AgentStateChanged, CallEvent, Event
from ivr.reports.facts import facts_of
from ivr.reports.kpi import (
    ANSWER_TARGET_S,
    CONNECTION_TARGET,
    LOCAL_ZONE,
    HourlyTally,
    KpiTally,
)
from ivr.web.users import User

MAX_LIVE_CALLS = 20_000
MAX_HISTORIES = 1_000  # callers' pasts kept for calls offered to desks
STATES = ("available", "ringing", "on_call", "wrap_up", "paused", "logged_out")


class LiveBoard:
    """Everything the pages show, and a signal each time it changes."""

    def __init__(self, now: Callable[[], datetime], users: Callable[[], Mapping[str, User]],
                 target_s: float = ANSWER_TARGET_S, zone: tzinfo = LOCAL_ZONE) -> None:
        self._now = now
        self._users = users
        self._zone = zone
        self.target_s = target_s
        self._day: date | None = None
        self._tally = KpiTally(target_s)
        self._hourly = HourlyTally(zone, target_s)
        self._calls: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self.waiting: dict[str, tuple[str, datetime]] = {}  # call id -> (skill, since)
        self.agent_states: dict[str, tuple[str, datetime]] = {}  # agent id -> (state, since)
        self.pops: dict[str, dict[str, Any]] = {}  # agent id -> the call offered
        self._lookups: list[str] = []  # calls offered whose caller's past is not known yet
        self._history: OrderedDict[str, tuple[list[Any], list[Any]]] = OrderedDict()
        self.version = 0
        self._changed = asyncio.Event()

    # -- change signal ------------------------------------------------------------------
    def _bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, version: int, timeout: float) -> int:
        """Wait until the board is newer than ``version`` (or ``timeout``); the new version."""
        if self.version == version:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                pass
        return self.version

    # -- feeding ------------------------------------------------------------------------
    def _roll_day(self) -> None:
        today = self._now().astimezone(self._zone).date()
        if today != self._day:
            self._day = today
            self._tally = KpiTally(self.target_s)
            self._hourly = HourlyTally(self._zone, self.target_s)

    def handle(self, event: Event) -> None:
        """Apply one event."""
        if isinstance(event, CallEvent):
            self._call_step(event)
        elif isinstance(event, AgentStateChanged):
            self.agent_states[event.agent_id] = (event.state, event.at)
        else:
            return
        self._bump()

    def _agent_for(self, interface: str) -> str | None:
        wanted = interface.lower()
        return next((u.id for u in self._users().values()
                     if u.interface and u.interface.lower() == wanted), None)

    def _call_step(self, event: CallEvent) -> None:
        call_id, step, data = event.call_id, event.step, event.data
        steps = self._calls.get(call_id)
        if steps is None:
            if step != "decided":
                return
            steps = self._calls[call_id] = []
            while len(self._calls) > MAX_LIVE_CALLS:
                self._calls.popitem(last=False)
        steps.append({**data, "call_id": call_id, "step": step, "at": event.at.isoformat()})
        if step == "queued":
            skill = str(data.get("queue") or "").removeprefix("hl-") or "-"
            self.waiting[call_id] = (skill, event.at)
        elif step in ("answered", "queue_result", "fallback"):
            self.waiting.pop(call_id, None)
        if step == "ringing":
            agent = self._agent_for(str(data.get("dest") or "").rsplit("-", 1)[0])
            if agent is not None:
                self.pops[agent] = self._offer(call_id, steps, "ringing")
        elif step == "answered":
            agent = str(data.get("agent") or "")
            pop = self.pops.get(agent)
            if pop is not None and pop["call_id"] == call_id:
                pop["state"] = "talking"
            elif agent in self._users():
                self.pops[agent] = self._offer(call_id, steps, "talking")
        elif step == "classified":
            for pop in self.pops.values():
                if pop["call_id"] == call_id:
                    pop.update(self._classification(data))
        elif step == "hangup":
            self.waiting.pop(call_id, None)
            for pop in self.pops.values():
                if pop["call_id"] == call_id:
                    pop["state"] = "ended"
            self._calls.pop(call_id, None)
            facts = facts_of(call_id, steps)
            self._roll_day()
            if facts is not None and facts.start.astimezone(self._zone).date() == self._day:
                self._tally.add(facts)
                self._hourly.add(facts)

    @staticmethod
    def _classification(data: Mapping[str, Any]) -> dict[str, Any]:
        heard = data.get("classification") or {}
        return {"classification": {k: heard.get(k) for k in ("domain", "request_type", "urgency",
                                                             "emergency_number")} if heard else None,
                "transcript": data.get("transcript") or None}

    def _offer(self, call_id: str, steps: list[dict[str, Any]], state: str) -> dict[str, Any]:
        decided = next((s for s in steps if s["step"] == "decided"), {})
        classified = next((s for s in steps if s["step"] == "classified"), None)
        pop: dict[str, Any] = {
            "call_id": call_id, "state": state, "offered_at": steps[-1]["at"],
            "number": decided.get("number"), "line_name": decided.get("line_name"),
            "mode": decided.get("mode"), "phase": decided.get("phase"),
            "caller": decided.get("caller"),  # masked by the routing feature
            "skill": decided.get("skill"), "classification": None, "transcript": None,
            "history": None, "orders": None,  # None: still being looked up
        }
        if classified is not None:
            pop.update(self._classification(classified))
        known = self._history.get(call_id)
        if known is not None:
            pop["history"], pop["orders"] = known
        elif call_id not in self._lookups:
            self._lookups.append(call_id)
            del self._lookups[:-MAX_HISTORIES]  # the feature takes them after every event
        return pop

    def take_lookups(self) -> list[str]:
        """The calls offered since the last call whose caller's past is still to look up."""
        found, self._lookups = self._lookups, []
        return found

    def set_history(self, call_id: str, history: list[dict[str, Any]],
                    orders: list[dict[str, Any]]) -> None:
        """The caller's earlier calls and unfinished work orders, onto every desk showing the call."""
        self._history[call_id] = (history, orders)
        while len(self._history) > MAX_HISTORIES:
            self._history.popitem(last=False)
        for pop in self.pops.values():
            if pop["call_id"] == call_id:
                pop["history"], pop["orders"] = history, orders
        self._bump()

    def apply_snapshot(self, snapshot: Mapping[str, Any] | None) -> None:
        """Agents from the ACD's snapshot; a state an event reported later is kept."""
        if not snapshot:
            return
        try:
            at = datetime.fromisoformat(str(snapshot["at"]))
        except (KeyError, ValueError):
            return
        changed = False
        for agent in snapshot.get("agent_list") or []:
            agent_id, state = str(agent.get("agent")), str(agent.get("state"))
            known = self.agent_states.get(agent_id)
            if known is None or (known[0] != state and known[1] < at):
                self.agent_states[agent_id] = (state, at)
                changed = True
        if changed:
            self._bump()

    # -- views --------------------------------------------------------------------------
    def wallboard(self) -> dict[str, Any]:
        """What the wallboard shows."""
        self._roll_day()
        now = self._now()
        k = self._tally.kpis()
        queues: dict[str, dict[str, float]] = {}
        for skill, since in self.waiting.values():
            q = queues.setdefault(skill, {"waiting": 0, "longest_wait_s": 0.0})
            q["waiting"] += 1
            q["longest_wait_s"] = max(q["longest_wait_s"], (now - since).total_seconds())
        users = self._users()
        agents = [{"id": u.id, "name": u.name,
                   "state": self.agent_states.get(u.id, ("logged_out", now))[0]}
                  for u in users.values() if u.role == "agent"]
        by_state = {s: sum(1 for a in agents if a["state"] == s) for s in STATES}
        curve = self._hourly.curve()
        return {
            "at": now.isoformat(), "version": self.version,
            "waiting": len(self.waiting),
            "kpis": {"offered": k.offered, "answered": k.answered, "abandoned": k.abandoned,
                     "within_target_share": k.answered_within_target_share,
                     "connection_rate": k.connection_rate, "avg_wait_s": k.avg_wait_s,
                     "target_s": self.target_s, "target_share": CONNECTION_TARGET},
            "queues": [{"skill": s, "waiting": int(q["waiting"]),
                        "longest_wait_s": round(q["longest_wait_s"], 1)}
                       for s, q in sorted(queues.items())],
            "agents": by_state, "agent_list": agents,
            "hourly": [int(curve[h]["offered"] or 0) for h in range(24)],
            "hourly_answered": [int(curve[h]["answered"] or 0) for h in range(24)],
        }

    def desk(self, agent_id: str) -> dict[str, Any]:
        """What one agent's desk shows."""
        user = self._users().get(agent_id)
        state = self.agent_states.get(agent_id)
        return {"version": self.version,
                "agent": {"id": agent_id, "name": user.name if user else agent_id,
                          "state": state[0] if state else "logged_out"},
                "call": self.pops.get(agent_id)}
