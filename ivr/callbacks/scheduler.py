"""What to dial next: pending entries, free agents, the clock and the limits in, a plan out.

Pure logic (no I/O, no clock of its own), so every rule is a unit test:

- entries keep their original place: the oldest request is dialled first;
- ``place: in_line``: an entry waits while a caller who joined its skill's queue *before*
  its request still waits there (that caller is older); ``when_idle``: while anybody waits;
- quiet hours hold every entry until they end; ``retry_after_s`` spaces the attempts; a
  number connected less than ``once_per_h`` ago waits for the period to end;
- pending longer than ``expire_after_h``: expired;
- at most ``max_concurrent`` entries dial at once; one agent and one number per entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from ivr.callbacks.model import CallbackState, Entry
from ivr.config.callbacks import CallbackRules, Place, QuietHours


@dataclass(frozen=True)
class FreeAgent:
    """An agent the ACD sees as available (logged in, not paused, not on a call)."""

    agent_id: str
    interface: str
    skills: frozenset[str]
    idle_since: datetime | None = None


@dataclass
class Plan:
    """The scheduler's answer for one round."""

    dial: list[tuple[Entry, FreeAgent]] = field(default_factory=list)
    expire: list[Entry] = field(default_factory=list)
    held: dict[int, str] = field(default_factory=dict)  # entry id -> why it waits


def quiet_until(now: datetime, quiet: QuietHours | None, tz: tzinfo) -> datetime | None:
    """The end of the quiet hours ``now`` falls in (local time of ``tz``), None outside them."""
    if quiet is None:
        return None
    start, end = quiet.bounds()
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until


def _clock(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%m-%d %H:%M:%S")


def hold_reason(entry: Entry, now: datetime, rules: CallbackRules, tz: tzinfo,
                waiting_since: Mapping[str, datetime],
                connected_at: Mapping[str, datetime]) -> str:
    """Why ``entry`` may not be dialled now ('' when it may), agents aside."""
    if not rules.enabled:
        return "callbacks.enabled is false"
    until = quiet_until(now, rules.quiet_hours, tz)
    if until is not None:
        return f"quiet hours until {_clock(until, tz)}"
    if entry.last_attempt_at is not None:
        due = entry.last_attempt_at + timedelta(seconds=rules.retry_after_s)
        if now < due:
            return f"attempt {entry.attempts + 1} not before {_clock(due, tz)}"
    last = connected_at.get(entry.number)
    if rules.once_per_h and last is not None:
        again = last + timedelta(hours=rules.once_per_h)
        if now < again:
            return f"number called back at {_clock(last, tz)}; again after {_clock(again, tz)}"
    oldest = waiting_since.get(entry.skill)
    if oldest is not None:
        if rules.place is Place.WHEN_IDLE:
            return "callers are waiting in the queue (place: when_idle)"
        if oldest < entry.requested_at:
            return "a caller who joined the queue before this request is waiting"
    return ""


def plan(pending: Sequence[Entry], dialling: int, agents: Sequence[FreeAgent],
         waiting_since: Mapping[str, datetime], connected_at: Mapping[str, datetime],
         now: datetime, rules: CallbackRules, tz: tzinfo) -> Plan:
    """One round: which pending entries to dial with which free agents, which expire.

    ``dialling``: entries dialling now; ``waiting_since``: per skill, when the longest-waiting
    queued caller joined; ``connected_at``: per number, the last connected callback.
    """
    out = Plan()
    expiry = timedelta(hours=rules.expire_after_h)
    slots = rules.max_concurrent - dialling
    free = sorted(agents, key=lambda a: (a.idle_since is None, a.idle_since or now, a.agent_id))
    taken: set[str] = set()
    numbers: set[str] = set()
    for entry in sorted(pending, key=lambda e: (e.requested_at, e.id)):
        if entry.state is not CallbackState.PENDING:
            continue
        if now - entry.requested_at >= expiry:
            out.expire.append(entry)
            continue
        reason = hold_reason(entry, now, rules, tz, waiting_since, connected_at)
        if not reason and entry.number in numbers:
            reason = "the same number is being called back"
        if not reason and slots <= 0:
            reason = f"{rules.max_concurrent} callback(s) dialling already (max_concurrent)"
        agent = None
        if not reason:
            agent = next((a for a in free if a.agent_id not in taken and entry.skill in a.skills),
                         None)
            if agent is None:
                reason = f"no free agent with skill {entry.skill}"
        if reason or agent is None:
            out.held[entry.id] = reason
            continue
        out.dial.append((entry, agent))
        taken.add(agent.agent_id)
        numbers.add(entry.number)
        slots -= 1
    return out
