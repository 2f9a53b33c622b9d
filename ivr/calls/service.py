"""The routing service: answers each FastAGI ``route`` request with a decision."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ivr.agi.server import AgiSession
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.core.decision_vars import packed
from ivr.core.events import StepRecorder
from ivr.masking import mask_number
from ivr.routing.decision import CallFacts, Decision, decide

log = logging.getLogger(__name__)


class RepeatCallers:
    """Remembers recent callers (by a hash, never the number) to spot repeat calls."""

    def __init__(self, window_min: Callable[[], int], limit: int = 100_000) -> None:
        self._window_min = window_min
        self._limit = limit
        self._last: dict[str, datetime] = {}

    def seen(self, caller: str, now: datetime) -> bool:
        """True when ``caller`` called within the window; records this call."""
        key = hashlib.sha256(caller.encode()).hexdigest()[:16]
        last = self._last.pop(key, None)
        self._last[key] = now
        if len(self._last) > self._limit:
            self._last.pop(next(iter(self._last)))
        return last is not None and now - last <= timedelta(minutes=self._window_min())

SoundResolver = Callable[[str], str]
#: Extra channel variables for a decided call (listening: ivr.listening.service.plan).
#: the longest a decision waits for the call store's commit before the call goes on anyway
DURABLE_WAIT_S = 0.25

@dataclass(frozen=True)
class RouteAddition:
    """What one feature adds to a routed call: channel variables for the dialplan (they
    travel in HOTLINE_DECISION, ivr/core/decision_vars.py) and fields of its ``decided``
    step. Routing knows neither; each feature says its own."""

    variables: Mapping[str, str] = field(default_factory=dict)
    step: Mapping[str, Any] = field(default_factory=dict)


RoutePlanner = Callable[[Decision, CallFacts, str], RouteAddition]


def channel_variables(decision: Decision, call_id: str, sound: SoundResolver,
                      max_wait_s: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``HOTLINE_*`` variables the dialplan acts on (see dialplans/extensions.conf.tmpl),
    in the order to set them: ``extra`` (listening, screen-pop) before HOTLINE_TARGET_KIND,
    which comes last because the dialplan reads it as "decided"."""
    target = decision.target
    queued_first = target.dial is None
    return {
        **(extra or {}),
        "HOTLINE_CALL_ID": call_id,
        "HOTLINE_LINE": decision.line.number,
        "HOTLINE_MODE": decision.line.mode.value,
        "HOTLINE_PHASE": decision.phase.value,
        "HOTLINE_SKILL": target.skill or "",
        "HOTLINE_PRIORITY": str(target.priority),
        "HOTLINE_TAGS": ",".join(decision.tags),
        "HOTLINE_PROMPTS": "&".join(sound(p) for p in decision.prompts),
        "HOTLINE_DIAL": target.dial or "",
        "HOTLINE_DIAL_BACKUP": target.backup_dial or "",
        "HOTLINE_DIAL_TIMEOUT": str(target.timeout_s or 20),
        "HOTLINE_QUEUE": target.queue or "",
        "HOTLINE_QUEUE_RULE": target.queue_rule or "",
        "HOTLINE_MAX_PENALTY": str(target.max_penalty if target.max_penalty is not None else 9),
        "HOTLINE_MAX_WAIT": str(target.timeout_s if queued_first and target.timeout_s
                                else max_wait_s),
        "HOTLINE_CALLBACK_PROMPT": sound("no-agents-callback"),
        # Set last: the dialplan treats an empty kind as "no decision".
        "HOTLINE_TARGET_KIND": target.kind.value,
    }


class RoutingService:
    """Decides each inbound call and hands the decision to the dialplan."""

    def __init__(self, config: Callable[[], EngineConfig], clock: Clock,
                 journal: StepRecorder, sound: SoundResolver,
                 extras: RoutePlanner | None = None,
                 link_caller: Callable[[str, str], None] | None = None,
                 durable: Callable[[], Awaitable[None]] | None = None) -> None:
        self._config = config
        self._durable = durable  # the call store's commit: the decision is on record first
        self._link_caller = link_caller  # the call store's keyed hash: a caller's earlier calls
        self._extras = extras
        self._clock = clock
        self._journal = journal
        self._sound = sound
        self._repeats = RepeatCallers(lambda: self._config().rules.acd.repeat_window_min)

    async def handle(self, session: AgiSession) -> None:
        """The FastAGI handler for ``agi://…/route``."""
        env = session.env
        if env.script.strip("/") != "route":
            log.warning("unknown AGI script %r; leaving the call to the fallback", env.script)
            return
        call_id = env.get("uniqueid")
        number = env.get("extension") or env.get("dnid")
        raw_caller = env.get("callerid")
        caller = None if raw_caller in ("", "unknown") else raw_caller
        now = self._clock.now()
        config = self._config()
        repeat = self._repeats.seen(caller, now) if caller else False
        facts = CallFacts(number=number, at=now, caller=caller, repeat_caller=repeat)
        decision = decide(facts, config)
        added = self._plan_extras(decision, facts, call_id)
        variables = channel_variables(decision, call_id, self._sound,
                                      config.rules.acd.max_wait_s, extra=added.variables)
        if caller and self._link_caller is not None:  # before the step: it goes in its row
            self._link_caller(call_id, caller)
        self._journal.append(
            call_id, "decided", now, number=number, caller=decision.caller_masked,
            region=decision.region, mode=decision.line.mode.value, line_name=decision.line.name,
            phase=decision.phase.value, prompts=decision.prompts,
            target_kind=decision.target.kind.value, skill=decision.target.skill,
            queue=decision.target.queue, dial=decision.target.dial,
            priority=decision.target.priority, tags=decision.tags, **added.step,
        )
        if self._durable is not None:
            await self._committed(call_id)
        await session.set_variables(packed(variables))
        log.info("call %s from %s to %s: %s/%s prompts=%s -> %s %s", call_id,
                 mask_number(caller) if caller else "-", number, decision.line.mode.value,
                 decision.phase.value, ",".join(decision.prompts), decision.target.kind.value,
                 decision.target.dial or decision.target.queue)

    async def _committed(self, call_id: str) -> None:
        """Wait (briefly) until the decision is committed: a controller killed the next
        moment still has the call on record. A slow or broken disk costs the record, never
        the call: past ``DURABLE_WAIT_S`` the call is routed anyway."""
        assert self._durable is not None
        try:
            async with asyncio.timeout(DURABLE_WAIT_S):
                await self._durable()
        except TimeoutError:
            log.warning("call %s: the call store did not commit within %d ms; routed anyway",
                        call_id, DURABLE_WAIT_S * 1000)
        except Exception:
            log.exception("call %s: the call store failed; routed anyway", call_id)

    def _plan_extras(self, decision: Decision, facts: CallFacts, call_id: str) -> RouteAddition:
        """The other features' additions; a planner bug only costs the call those."""
        if self._extras is None:
            return RouteAddition()
        try:
            return self._extras(decision, facts, call_id)
        except Exception:
            log.exception("call %s: a feature's plan failed; routing on the number alone", call_id)
            return RouteAddition()
