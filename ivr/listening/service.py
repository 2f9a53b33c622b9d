"""Listening on live calls: plan it at the routing decision, serve the AudioSocket leg,
route again on what the caller said.

The call flow (``dialplans/extensions.conf.tmpl``, ``[hotline-answer]``)::

    AGI route      -> decision by number + HOTLINE_LISTEN=1, HOTLINE_LISTEN_DIAL
    Answer, Dial(AudioSocket/host:port/<speech id>/c(slin))
                   -> greeting + listen prompt played here, barge-in, VAD, Vosk, classify
    AGI classify   -> decision again with the classification: HOTLINE_* rewritten
    hotline-target -> the queue of the domain heard, or the emergency service

Every failure keeps the first decision (12345's general queue): the AudioSocket server
down, the leg failing, the result missing, the controller restarted in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ivr.agi.server import AgiSession
from ivr.calls.service import RouteAddition, SoundResolver, channel_variables
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.core.events import StepRecorder
from ivr.listening.prompts import PromptAudio, PromptAudioError
from ivr.listening.runtime import SpeechRuntime
from ivr.listening.variables import screen_pop
from ivr.masking import mask_numbers_in_text
from ivr.routing.decision import CallFacts, Decision, LineMode, TargetKind, decide
from ivr.speech.pipeline import PipelineResult
from ivr.speech.server import AudioSocketSession
from ivr.speech.settings import ListenOn

log = logging.getLogger(__name__)

#: what the listening feature adds to a call it does not listen to
NOT_LISTENING = RouteAddition(step={"listening": False})
RESULT_WAIT_S = 1.0  # the result is posted before the AudioSocket leg ends; this is slack

_LISTENING_MODES = {
    LineMode.MAIN: ListenOn.MAIN,
    LineMode.UNKNOWN: ListenOn.UNKNOWN,
    LineMode.EMERGENCY: ListenOn.DIVERTED_EMERGENCY,
}


@dataclass
class ListeningCall:
    """One listening call, from the routing decision to its classify request: the only
    place its state lives (the plan, the prompt it hears, what it said)."""

    call_id: str
    speech_id: uuid.UUID
    facts: CallFacts
    prompt: bytes
    planned_at: float  # monotonic: the routing decision, just before Answer()
    result: PipelineResult | None = None
    heard: asyncio.Event = field(default_factory=asyncio.Event)

    def post(self, result: PipelineResult) -> None:
        """The AudioSocket leg is done: keep what was heard, wake the classify request."""
        self.result = result
        self.heard.set()

    async def wait(self, timeout_s: float) -> PipelineResult | None:
        """The result, waiting up to ``timeout_s`` for the leg to finish."""
        if self.result is None:
            try:
                async with asyncio.timeout(timeout_s):
                    await self.heard.wait()
            except TimeoutError:
                return None
        return self.result


def _masked(result: PipelineResult) -> PipelineResult:
    """The result with phone, ID and card numbers the caller said masked in its transcripts
    (they go into call records, work orders and AMI channel variables)."""
    text = mask_numbers_in_text(result.transcript)
    heard = result.classification
    return replace(result, transcript=text,
                   classification=replace(heard, transcript=mask_numbers_in_text(heard.transcript)))


def listening_prompts(prompts: list[str], greeting: str, listen_prompt: str | None) -> list[str]:
    """What a listening call hears: the listening prompt in place of the greeting (it greets
    and asks what the call is about), after any other prompt (e.g. a diversion notice)."""
    if listen_prompt is None:
        return list(prompts)
    kept = [p for p in prompts if p != greeting]
    return [*kept, listen_prompt]


class ListeningService:
    """Plans listening at routing time and re-routes on the result (FastAGI ``classify``)."""

    def __init__(self, config: Callable[[], EngineConfig], runtime: SpeechRuntime,
                 prompts: PromptAudio, journal: StepRecorder, clock: Clock, sound: SoundResolver,
                 keep: int = 1000) -> None:
        self._config = config
        self._runtime = runtime
        self._prompts = prompts
        self._journal = journal
        self._clock = clock
        self._sound = sound
        self._keep = keep
        self._calls: OrderedDict[uuid.UUID, ListeningCall] = OrderedDict()

    # routing time

    def plan(self, decision: Decision, facts: CallFacts, call_id: str) -> RouteAddition:
        """The channel variables that make the call listen (none when it should not), and
        ``listening``/``speech_id`` for its ``decided`` step."""
        listening = self._config().rules.listening
        wanted = _LISTENING_MODES.get(decision.line.mode)
        if (wanted is None or wanted not in listening.lines
                or decision.target.kind is not TargetKind.QUEUE or not self._runtime.available):
            return NOT_LISTENING
        prompt_ids = listening_prompts(decision.prompts, self._config().rules.prompts.greeting,
                                       listening.prompt)
        try:
            prompt = self._prompts.sequence(prompt_ids)
        except PromptAudioError as exc:
            log.error("call %s not listening: %s", call_id, exc)
            return NOT_LISTENING
        speech_id = uuid.uuid4()
        self._calls[speech_id] = ListeningCall(call_id, speech_id, facts, prompt,
                                               time.monotonic())
        while len(self._calls) > self._keep:
            self._calls.popitem(last=False)
        socket = listening.audiosocket
        return RouteAddition(variables={
            "HOTLINE_LISTEN": "1",
            "HOTLINE_SPEECH_ID": str(speech_id),
            "HOTLINE_LISTEN_DIAL": f"AudioSocket/{socket.host}:{socket.port}/{speech_id}/c(slin)",
            "HOTLINE_LISTEN_S": str(listening.listen_s),
            "HOTLINE_LISTEN_LIMIT_MS": str(listening.budget_ms + 2000),
        }, step={"listening": True, "speech_id": str(speech_id)})

    # the AudioSocket leg

    async def handle_audio(self, session: AudioSocketSession) -> None:
        """AudioSocket handler: play the call's prompts, listen, classify, post."""
        call = self._calls.get(session.uuid)
        if call is None:
            log.warning("AudioSocket call %s was not planned (controller restarted?)",
                        session.uuid)
        else:
            self._journal.append(call.call_id, "listening", self._clock.now(),
                                 speech_id=str(session.uuid),
                                 connect_ms=round((time.monotonic() - call.planned_at) * 1000, 1))
        result = await self._runtime.handle(session, call.prompt if call else b"")
        if call is not None and result is not None:
            call.post(result)

    # after listening

    async def handle_classify(self, session: AgiSession) -> None:
        """FastAGI ``classify,<speech id>``: route again on what the caller said."""
        call_id = session.env.get("uniqueid")
        args = session.env.args
        try:
            speech_id = uuid.UUID(args[0]) if args else None
        except ValueError:
            speech_id = None
        pending = self._calls.get(speech_id) if speech_id else None
        if pending is None:
            self._journal.append(call_id, "classified", self._clock.now(), outcome="lost",
                                 speech_id=args[0] if args else None)
            log.warning("call %s: no listening plan for %s; keeping the first decision",
                        call_id, args[:1])
            return
        try:
            result = await pending.wait(RESULT_WAIT_S)
        finally:
            self._calls.pop(pending.speech_id, None)
        budget_used_ms = round((time.monotonic() - pending.planned_at) * 1000, 1)
        if result is None:
            self._journal.append(call_id, "classified", self._clock.now(), outcome="no_result",
                                 budget_used_ms=budget_used_ms)
            log.warning("call %s: no pre-classification result (AudioSocket leg failed?); "
                        "keeping the first decision", call_id)
            return
        result = _masked(result)
        config = self._config()
        facts = replace(pending.facts, utterance=result.transcript or None,
                        classification=result.classification)
        decision = decide(facts, config)
        await self._apply(session, decision, result, call_id, config)
        budget_ms = config.rules.listening.budget_ms
        self._journal.append(
            call_id, "classified", self._clock.now(), outcome=result.outcome.value,
            classification=result.classification.to_json(), transcript=result.transcript,
            speech=result.to_json(), budget_used_ms=budget_used_ms, budget_ms=budget_ms,
            within_budget=budget_used_ms <= budget_ms, target_kind=decision.target.kind.value,
            skill=decision.target.skill, queue=decision.target.queue, dial=decision.target.dial,
            priority=decision.target.priority, tags=decision.tags)
        log.info("call %s classified %s: %s/%s urgency %s (%.2f) -> %s %s in %.0f ms", call_id,
                 result.outcome.value, result.classification.domain,
                 result.classification.request_type.value, result.classification.urgency.value,
                 result.classification.confidence, decision.target.kind.value,
                 decision.target.dial or decision.target.queue, budget_used_ms)

    async def _apply(self, session: AgiSession, decision: Decision, result: PipelineResult,
                     call_id: str, config: EngineConfig) -> None:
        """Rewrite the HOTLINE_* variables. The prompts were played over AudioSocket, and an
        emergency is dialled at once (the caller hears it ring), so none play now."""
        variables = channel_variables(replace(decision, prompts=[]), call_id, self._sound,
                                      config.rules.acd.max_wait_s, extra=screen_pop(result))
        await session.set_variables(variables)

    def pending(self) -> int:
        """Calls planned to listen whose classify request has not come yet."""
        return len(self._calls)
