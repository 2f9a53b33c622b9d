"""The routing service: answers each FastAGI ``route`` request with a decision."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ivr.agi.server import AgiSession
from ivr.calls.records import CallJournal
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.masking import mask_number
from ivr.routing.decision import CallFacts, Decision, decide

log = logging.getLogger(__name__)

SoundResolver = Callable[[str], str]


def channel_variables(decision: Decision, call_id: str, sound: SoundResolver) -> dict[str, str]:
    """The ``HOTLINE_*`` variables the dialplan acts on (see dialplans/extensions.conf.tmpl)."""
    target = decision.target
    timeout = target.timeout_s or 20
    return {
        "HOTLINE_CALL_ID": call_id,
        "HOTLINE_LINE": decision.line.number,
        "HOTLINE_MODE": decision.line.mode.value,
        "HOTLINE_PHASE": decision.phase.value,
        "HOTLINE_SKILL": target.skill or "",
        "HOTLINE_PRIORITY": str(target.priority),
        "HOTLINE_TAGS": ",".join(decision.tags),
        "HOTLINE_PROMPTS": "&".join(sound(p) for p in decision.prompts),
        "HOTLINE_DIAL": target.dial or "",
        "HOTLINE_NEXT_DIAL": target.next_dial or "",
        "HOTLINE_DIAL_TIMEOUT": str(timeout),
        # Set last: the dialplan treats an empty kind as "no decision".
        "HOTLINE_TARGET_KIND": target.kind.value,
    }


class RoutingService:
    """Decides each inbound call and hands the decision to the dialplan."""

    def __init__(self, config: Callable[[], EngineConfig], clock: Clock,
                 journal: CallJournal, sound: SoundResolver) -> None:
        self._config = config
        self._clock = clock
        self._journal = journal
        self._sound = sound

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
        decision = decide(CallFacts(number=number, at=now, caller=caller), self._config())
        variables = channel_variables(decision, call_id, self._sound)
        for name, value in variables.items():
            await session.set_variable(name, value)
        self._journal.append(
            call_id, "decided", now, number=number, caller=decision.caller_masked,
            region=decision.region, mode=decision.line.mode.value, line_name=decision.line.name,
            phase=decision.phase.value, prompts=decision.prompts,
            target_kind=decision.target.kind.value, skill=decision.target.skill,
            dial=decision.target.dial, tags=decision.tags,
        )
        log.info("call %s from %s to %s: %s/%s prompts=%s -> %s %s", call_id,
                 mask_number(caller) if caller else "-", number, decision.line.mode.value,
                 decision.phase.value, ",".join(decision.prompts), decision.target.kind.value,
                 decision.target.dial)
