"""The callback service: entries in, the scheduler's plan out, one Originate per attempt.

Every store call runs in a thread (SQLite never blocks the event loop).  Durability: an
entry is committed as ``dialling`` before its Originate; on every AMI login, dialling
entries whose channels are gone are resolved from the stage the dialplan kept in AstDB,
so a restart neither loses nor double-dials one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.ami.client import AmiError
from ivr.ami.codec import AmiMessage
from ivr.callbacks import dialler
from ivr.callbacks.model import CallbackError, CallbackState, Entry, Outcome, Reason
from ivr.callbacks.ports import AcdView, AmiPort, free_agents, waiting_since
from ivr.callbacks.scheduler import plan
from ivr.callbacks.store import CallbackStore
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.core.events import StepRecorder
from ivr.core.queues import QUEUE_PREFIX
from ivr.masking import mask_number

log = logging.getLogger(__name__)

REQUEST_EVENT = "HotlineCallbackRequest"
ENDED_EVENT = "HotlineCallbackEnded"
STAGE_EVENT = "HotlineCallbackStage"
NEW_CALL_EVENT = "HotlinePromptsDone"  # every routed inbound call passes it
#: agents logging in, resuming, ending a queue call (the ACD's tracker saw them first)
WAKE_EVENTS = frozenset({"QueueMemberAdded", "QueueMemberPause", "AgentComplete"})
_NUMBER = re.compile(r"\+?([0-9]{3,20})")


def dialable(raw: str) -> str | None:
    """The digits of a caller id we can call back, None for anonymous or odd ones."""
    match = _NUMBER.fullmatch(raw.strip())
    return match.group(1) if match else None


class CallbackService:
    """Callback entries from AMI events, dialled when the scheduler says so."""

    def __init__(self, store: CallbackStore, acd: AcdView | None,
                 ami: Callable[[], AmiPort | None], config: Callable[[], EngineConfig],
                 clock: Clock, steps: StepRecorder, sound: Callable[[str], str]) -> None:
        self._store = store
        self._acd = acd
        self._ami = ami
        self._config = config
        self._clock = clock
        self._steps = steps
        self._sound = sound
        self._resting: dict[str, datetime] = {}  # agent id -> may dial again after
        self._connected: dict[str, datetime] | None = None  # number -> last connected
        self._wake = asyncio.Event()
        self._checks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ entries in
    async def handle(self, event: AmiMessage) -> None:
        """The AMI events of callbacks (queued: runs in order, off the AMI reader)."""
        name = event.event
        if name in WAKE_EVENTS:  # an agent may be free: plan now, not at the next poll
            self._wake.set()
        elif name == "QueueCallerAbandon":
            await self._abandoned(event)
        elif name == "UserEvent":
            kind = event.get("UserEvent")
            if kind == REQUEST_EVENT:
                reason = Reason.REQUESTED if event.get("Reason") == "requested" else Reason.NO_AGENTS
                await self.request(event.get("CallId") or event.get("Uniqueid"),
                                   event.get("CallerIDNum"), event.get("Skill"), reason)
            elif kind == NEW_CALL_EVENT:
                await self._new_call(event.get("CallId") or event.get("Uniqueid"),
                                     event.get("CallerIDNum"))
            elif kind == ENDED_EVENT:
                await self._ended(event.get("Key"), event.get("Stage"))
            elif kind == STAGE_EVENT:
                self._stage(event)

    async def _abandoned(self, event: AmiMessage) -> None:
        queue = event.get("Queue")
        held = event.get("HoldTime")
        rules = self._config().rules.callbacks
        if not queue.startswith(QUEUE_PREFIX) or not held.isdigit() \
                or int(held) < rules.min_abandon_wait_s:
            return
        await self.request(event.get("Uniqueid"), event.get("CallerIDNum"),
                           queue.removeprefix(QUEUE_PREFIX), Reason.ABANDONED, wait_s=int(held))

    async def request(self, call_id: str, caller: str, skill: str, reason: Reason,
                      wait_s: int | None = None) -> Entry | None:
        """Store a request (one open entry per number: a second one keeps the first's place)."""
        number = dialable(caller)
        if number is None or not call_id:
            log.info("call %s: no callback for caller id %s (not a number)", call_id,
                     mask_number(caller))
            return None
        now = self._clock.now()
        entry = await asyncio.to_thread(self._store.add, call_id, number, skill or "general",
                                        now, reason)
        if entry is None:
            return None
        log.info("callback %d for %s (call %s, %s, skill %s)", entry.id, entry.masked, call_id,
                 reason.value, entry.skill)
        if reason is not Reason.NO_AGENTS:  # the routing adapter records the dialplan's offer
            self._steps.append(call_id, "callback_requested", now, callback=entry.id,
                               caller=entry.masked, skill=entry.skill, reason=reason.value,
                               **({"wait_s": wait_s} if wait_s is not None else {}))
        self._wake.set()
        return entry

    async def _new_call(self, call_id: str, caller: str) -> None:
        number = dialable(caller)
        if number is None:
            return
        for entry in await asyncio.to_thread(self._store.pending_for_number, number, call_id):
            try:
                await self.cancel(entry.id, by=f"new call {call_id}")
            except CallbackError as exc:  # dialling meanwhile: it goes ahead
                log.info("callback %d not cancelled by call %s: %s", entry.id, call_id, exc)

    async def cancel(self, entry_id: int, by: str = "cli") -> Entry:
        """Cancel a pending entry (the caller called again, or someone asked)."""
        entry = await asyncio.to_thread(self._store.close_entry, entry_id,
                                        CallbackState.CANCELLED, self._clock.now())
        self._outcome(entry, Outcome.CANCELLED, by=by)
        return entry

    # ------------------------------------------------------------------ dialling
    def _busy_agents(self, open_entries: list[Entry], now: datetime) -> set[str]:
        busy = {e.agent for e in open_entries if e.state is CallbackState.DIALLING and e.agent}
        self._resting = {a: t for a, t in self._resting.items() if t > now}
        return busy | set(self._resting)

    async def run(self) -> None:
        """The scheduler loop: every ``poll_s`` (or at once after a new entry or an end)."""
        while True:
            try:
                await self.round()
            finally:
                rules = self._config().rules.callbacks
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=rules.poll_s)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def round(self) -> None:
        """One scheduling round."""
        config = self._config()
        rules = config.rules.callbacks
        now = self._clock.now()
        tz = ZoneInfo(config.catalogue.regions[config.rules.deployment.region].timezone)
        entries = await asyncio.to_thread(self._store.open_entries)
        if self._connected is None:
            since = now - timedelta(hours=max(rules.once_per_h, 1))
            self._connected = await asyncio.to_thread(self._store.connected_at, since)
        pending = [e for e in entries if e.state is CallbackState.PENDING]
        dialling = len(entries) - len(pending)
        ami = self._ami()
        agents = free_agents(self._acd, self._busy_agents(entries, now)) \
            if self._acd is not None and ami is not None else []
        waiting = waiting_since(self._acd) if self._acd is not None else {}
        result = plan(pending, dialling, agents, waiting, self._connected, now, rules, tz)
        for entry in result.expire:
            closed = await asyncio.to_thread(self._store.close_entry, entry.id,
                                             CallbackState.EXPIRED, now)
            self._outcome(closed, Outcome.EXPIRED)
        changed = {i: t for i, t in result.held.items()
                   if next((e.held for e in pending if e.id == i), "") != t}
        if self._acd is None or ami is None:
            changed = {e.id: "the controller is not connected to Asterisk (AMI)"
                       for e in pending if e.held != "the controller is not connected to "
                       "Asterisk (AMI)"}
        await asyncio.to_thread(self._store.set_held, changed)
        for entry, agent in result.dial:
            if ami is None:
                break
            await self._dial(ami, entry, agent.agent_id, agent.interface, now)

    async def _dial(self, ami: AmiPort, entry: Entry, agent_id: str, interface: str,
                    now: datetime) -> None:
        config = self._config().rules.callbacks
        key = dialler.attempt_key(entry, now)
        entry = await asyncio.to_thread(self._store.mark_dialling, entry, agent_id, key, now)
        self._steps.append(entry.call_id, "callback_dialled", now, callback=entry.id,
                           caller=entry.masked, agent=agent_id, attempt=entry.attempts + 1,
                           skill=entry.skill, key=key)
        log.info("callback %d: ringing agent %s, then %s (attempt %d)", entry.id, agent_id,
                 entry.masked, entry.attempts + 1)
        try:
            await dialler.pause(ami, interface, True)
            await dialler.originate(ami, entry, key, interface, config,
                                    self._sound(config.prompt))
        except (dialler.OriginateFailed, AmiError, OSError, TimeoutError) as exc:
            log.warning("callback %d: Originate failed: %s", entry.id, exc)
            await self._agent_missed(ami, entry.id, agent_id)
            return
        task = asyncio.create_task(self._check_agent_leg(entry.id, key, agent_id,
                                                         config.agent_ring_s + 3))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check_agent_leg(self, entry_id: int, key: str, agent_id: str,
                               after_s: float) -> None:
        """After the agent's ring time: no stage and no channel means nobody answered."""
        await asyncio.sleep(after_s)
        ami = self._ami()
        entry = await asyncio.to_thread(self._store.get, entry_id)
        if ami is None or entry.state is not CallbackState.DIALLING or entry.dial_key != key:
            return
        alive, stage = await dialler.stage_of(ami, key)
        if not alive and not stage:
            await self._agent_missed(ami, entry_id, agent_id)

    async def _agent_missed(self, ami: AmiPort, entry_id: int, agent_id: str) -> None:
        """The agent did not answer (or the Originate failed): unpause, entry back to pending."""
        interface = self._interface_of(agent_id)
        if interface:
            try:
                await dialler.pause(ami, interface, False)
            except (dialler.OriginateFailed, AmiError, OSError, TimeoutError) as exc:
                log.warning("callback: could not unpause agent %s: %s", agent_id, exc)
        await self._finish(entry_id, Outcome.AGENT_NO_ANSWER, agent_id)

    def _interface_of(self, agent_id: str) -> str | None:
        if self._acd is None:
            return None
        return next((a.interface for a in self._acd.agents.values() if a.agent_id == agent_id),
                    None)

    def _stage(self, event: AmiMessage) -> None:
        entry_id = dialler.entry_id_of_key(event.get("Key"))
        if entry_id is None:
            return
        self._steps.append(event.get("CallId"), f"callback_{event.get('Stage')}",
                           self._clock.now(), callback=entry_id, key=event.get("Key"))

    async def _ended(self, key: str, stage: str) -> None:
        entry_id = dialler.entry_id_of_key(key)
        if entry_id is None:
            return
        entry = await asyncio.to_thread(self._store.get, entry_id)
        if entry.state is not CallbackState.DIALLING or entry.dial_key != key:
            return  # already resolved (a resync got there first)
        await self._finish(entry_id, dialler.outcome_of_stage(stage), entry.agent)

    async def _finish(self, entry_id: int, outcome: Outcome, agent: str | None) -> None:
        now = self._clock.now()
        rules = self._config().rules.callbacks
        entry = await asyncio.to_thread(self._store.finish_attempt, entry_id, outcome, now,
                                        rules.max_attempts)
        if outcome is Outcome.AGENT_NO_ANSWER and agent:
            self._resting[agent] = now + timedelta(seconds=rules.agent_cooldown_s)
        if outcome is Outcome.CONNECTED and self._connected is not None:
            self._connected[entry.number] = now
        self._outcome(entry, outcome, agent=agent or "")
        self._wake.set()

    def _outcome(self, entry: Entry, outcome: Outcome, **extra: str) -> None:
        log.info("callback %d (%s): %s -> %s", entry.id, entry.masked, outcome.value,
                 entry.state.value)
        self._steps.append(entry.call_id, "callback_outcome", self._clock.now(),
                           callback=entry.id, caller=entry.masked, outcome=outcome.value,
                           state=entry.state.value, attempts=entry.attempts, **extra)

    async def resync(self, ami: AmiPort) -> None:
        """After an AMI login: resolve dialling entries whose channels are gone."""
        for entry in await asyncio.to_thread(self._store.open_entries):
            if entry.state is not CallbackState.DIALLING or not entry.dial_key:
                continue
            started = dialler.started_of_key(entry.dial_key)
            if started is not None and self._clock.now() - started < timedelta(seconds=3):
                continue  # its channel may not be up yet: the watchdog looks again
            alive, stage = await dialler.stage_of(ami, entry.dial_key)
            if alive:
                continue  # its HotlineCallbackEnded is still to come
            log.info("callback %d was dialling when the controller stopped; stage %r",
                     entry.id, stage)
            if not stage:  # the agent never answered: nobody unpaused them
                await self._agent_missed(ami, entry.id, entry.agent or "")
            else:
                await self._finish(entry.id, dialler.outcome_of_stage(stage), entry.agent)

    async def watchdog(self) -> None:
        """Dialling entries far past their ring times without an end: resolved like a resync."""
        while True:
            await asyncio.sleep(30)
            ami = self._ami()
            if ami is None:
                continue
            rules = self._config().rules.callbacks
            limit = timedelta(seconds=rules.agent_ring_s + rules.caller_ring_s + 60)
            now = self._clock.now()
            for entry in await asyncio.to_thread(self._store.open_entries):
                started = dialler.started_of_key(entry.dial_key or "")
                if entry.state is CallbackState.DIALLING and started is not None \
                        and now - started > limit:
                    await self.resync(ami)
                    break
