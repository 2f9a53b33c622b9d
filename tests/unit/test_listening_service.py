"""Listening on live calls: which calls listen, what they hear, and how the classify AGI
re-routes them on what the caller said (variables for the dialplan, the call journal)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

import ivr.listening.service as listening_service
from ivr.agi.codec import AgiEnvironment
from ivr.agi.server import AgiSession
from ivr.calls.service import channel_variables
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.core.callstore import CallQuery, CallStore
from ivr.listening.prompts import PromptAudio, PromptAudioError
from ivr.listening.runtime import SpeechRuntime
from ivr.listening.service import ListeningService
from ivr.listening.variables import TRANSCRIPT_MAX, screen_pop
from ivr.prompts.library import PromptLibrary
from ivr.routing.decision import CallFacts, Decision, TargetKind, decide
from ivr.speech.classify import Classification, Source, Urgency
from ivr.speech.pipeline import Outcome, PipelineResult
from ivr.speech.rules import EmergencyService, OutOfScope, RequestType
from ivr.speech.server import AudioSocketSession
from ivr.speech.settings import EmergencyAction, ListenOn
from tests.unit.transfer_fakes import T0, FixedClock

REPO = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)
CALL_ID = "1763900000.7"

# Distinct constant samples per prompt, so the audio sent to a call shows which prompts it holds.
PROMPT_SAMPLES = {"greeting": (1000, 400), "listen": (2000, 300), "diverted-emergency": (3000, 200),
                  "hold": (4000, 100)}


# --- fakes ---------------------------------------------------------------------------------

@dataclass
class FakeRuntime:
    """What the service uses of :class:`SpeechRuntime`."""

    available: bool = True
    results: dict[uuid.UUID, PipelineResult] = field(default_factory=dict)  # what callers say
    handled: list[tuple[uuid.UUID, bytes]] = field(default_factory=list)

    async def handle(self, session: AudioSocketSession, prompt: bytes) -> PipelineResult | None:
        self.handled.append((session.uuid, prompt))
        return self.results.get(session.uuid)


@dataclass
class FakeAudioSession:
    uuid: uuid.UUID


@dataclass
class FakeAgi:
    """A FastAGI conversation that records ``SET VARIABLE``."""

    env: AgiEnvironment
    variables: list[tuple[str, str]] = field(default_factory=list)

    async def set_variable(self, name: str, value: str) -> None:
        self.variables.append((name, value))

    async def set_variables(self, variables: dict[str, str]) -> None:
        self.variables.extend(variables.items())


def classify_request(*args: str, call_id: str = CALL_ID) -> FakeAgi:
    variables = {"agi_network_script": "classify", "agi_uniqueid": call_id,
                 "agi_channel": "PJSIP/trunk-00000007"}
    variables.update({f"agi_arg_{i}": arg for i, arg in enumerate(args, 1)})
    return FakeAgi(AgiEnvironment(variables))


def write_wav(path: Path, sample: int, frames: int, rate: int = 8000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(sample.to_bytes(2, "little", signed=True) * frames * channels)


def pcm(prompt_id: str) -> bytes:
    sample, frames = PROMPT_SAMPLES[prompt_id]
    return sample.to_bytes(2, "little", signed=True) * frames


@pytest.fixture(scope="module")
def shipped() -> EngineConfig:
    return load_engine_config(REPO)


@pytest.fixture
def library(tmp_path: Path) -> PromptLibrary:
    for prompt_id, (sample, frames) in PROMPT_SAMPLES.items():
        write_wav(tmp_path / "recordings" / "generated" / f"{prompt_id}.wav", sample, frames)
    return PromptLibrary(tmp_path / "recordings")


class Harness:
    """A ListeningService over the shipped rules, fake runtime, temporary prompts and journal."""

    def __init__(self, config: EngineConfig, library: PromptLibrary, journal_path: Path,
                 keep: int = 1000) -> None:
        self.config = config
        self.runtime = FakeRuntime()
        self.library = library
        self.journal = CallStore(journal_path)
        self.journal.open()
        self.service = ListeningService(lambda: self.config, cast(SpeechRuntime, self.runtime),
                                        PromptAudio(library), self.journal, FixedClock(T0),
                                        library.sound_name, keep=keep)

    def listening(self, **update: Any) -> None:
        rules = self.config.rules
        self.config = replace(self.config, rules=rules.model_copy(
            update={"listening": rules.listening.model_copy(update=update)}))

    def plan(self, number: str = "12345", call_id: str = CALL_ID) -> dict[str, str]:
        """The channel variables; the ``decided`` step's fields must agree with them."""
        facts = CallFacts(number=number, at=AT)
        added = self.service.plan(decide(facts, self.config), facts, call_id)
        variables = dict(added.variables)
        assert added.step["listening"] is (variables.get("HOTLINE_LISTEN") == "1")
        assert added.step.get("speech_id") == variables.get("HOTLINE_SPEECH_ID")
        return variables

    async def classify(self, *args: str) -> FakeAgi:
        request = classify_request(*args)
        await self.service.handle_classify(cast(AgiSession, request))
        return request

    async def hear(self, speech_id: str, result: PipelineResult) -> None:
        """The caller's AudioSocket leg: the runtime hears ``result``."""
        call = uuid.UUID(speech_id)
        self.runtime.results[call] = result
        await self.service.handle_audio(cast(AudioSocketSession, FakeAudioSession(call)))

    def steps(self, kind: str) -> list[dict[str, Any]]:
        records = self.journal.calls_blocking(CallQuery(limit=10_000))
        return [s for r in records for s in r.steps if s["step"] == kind]


@pytest.fixture
def harness(shipped: EngineConfig, library: PromptLibrary, tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(shipped, library, tmp_path / "journal" / "calls.db")
    yield harness
    harness.journal.close()


def heard(domain: str = "social_security", *, emergency: str | None = None,
          out_of_scope: OutOfScope | None = None, text: str = "") -> Classification:
    if emergency is not None:
        service = {"110": EmergencyService.POLICE, "119": EmergencyService.FIRE,
                   "120": EmergencyService.AMBULANCE, "122": EmergencyService.TRAFFIC}[emergency]
        return Classification("general", RequestType.HELP, Urgency.EMERGENCY, service, emergency,
                              None, 0.95, Source.RULES, 0.5, text)
    return Classification(domain, RequestType.CONSULTATION, Urgency.NORMAL, None, None, out_of_scope,
                          0.82, Source.BLEND, 0.6, text)


def result_of(classification: Classification, transcript: str = "我想问一下养老保险怎么补缴",
              outcome: Outcome = Outcome.CLASSIFIED) -> PipelineResult:
    return PipelineResult(outcome, classification, transcript, speech_started_ms=900,
                          speech_ended_ms=3100, end_reason="silence", utterances=1,
                          decision_ms=3300.0, latency_ms=120.0, asr_final_ms=80.0)


# --- planning at the routing decision ------------------------------------------------------

def test_a_12345_call_is_told_to_listen(harness: Harness) -> None:
    variables = harness.plan("12345")
    speech_id = uuid.UUID(variables["HOTLINE_SPEECH_ID"])
    assert variables == {
        "HOTLINE_LISTEN": "1",
        "HOTLINE_SPEECH_ID": str(speech_id),
        "HOTLINE_LISTEN_DIAL": f"AudioSocket/127.0.0.1:9092/{speech_id}/c(slin)",
        "HOTLINE_LISTEN_S": "18",
        "HOTLINE_LISTEN_LIMIT_MS": "17000",
    }
    assert harness.service.pending() == 1


def test_every_listening_call_gets_its_own_speech_id(harness: Harness) -> None:
    first, second = harness.plan(call_id="1.1"), harness.plan(call_id="1.2")
    assert first["HOTLINE_SPEECH_ID"] != second["HOTLINE_SPEECH_ID"]
    assert harness.service.pending() == 2


def test_the_audiosocket_address_and_budget_come_from_the_rules(harness: Harness) -> None:
    harness.listening(audiosocket=harness.config.rules.listening.audiosocket.model_copy(
        update={"host": "10.0.0.5", "port": 9100}), budget_ms=10_000)
    variables = harness.plan()
    assert variables["HOTLINE_LISTEN_DIAL"].startswith("AudioSocket/10.0.0.5:9100/")
    assert (variables["HOTLINE_LISTEN_S"], variables["HOTLINE_LISTEN_LIMIT_MS"]) == ("13", "12000")


def test_an_unknown_number_listens(harness: Harness) -> None:
    assert harness.plan("88886666")["HOTLINE_LISTEN"] == "1"


@pytest.mark.parametrize(("number", "why"), [
    ("110", "diverted emergency calls are not in the shipped listening lines"),
    ("12360", "a sub-center line dials its sub-center, not a queue"),
    ("12396", "a merged line already says what the call is about"),
])
def test_lines_that_do_not_listen(harness: Harness, number: str, why: str) -> None:
    assert harness.plan(number) == {}, why
    assert harness.service.pending() == 0


async def test_diverted_emergency_listens_when_configured_after_its_notice(harness: Harness) -> None:
    harness.listening(lines=[ListenOn.DIVERTED_EMERGENCY])
    assert harness.plan("12345") == {}
    variables = harness.plan("110")
    assert variables["HOTLINE_LISTEN"] == "1"
    speech_id = uuid.UUID(variables["HOTLINE_SPEECH_ID"])
    await harness.service.handle_audio(cast(AudioSocketSession, FakeAudioSession(speech_id)))
    assert harness.runtime.handled == [(speech_id, pcm("diverted-emergency") + pcm("listen"))]


def test_no_listening_while_the_runtime_is_unavailable(harness: Harness) -> None:
    harness.runtime.available = False
    assert harness.plan("12345") == {}
    assert harness.service.pending() == 0


def test_a_missing_listening_prompt_routes_on_the_number(harness: Harness) -> None:
    harness.listening(prompt="no-such-prompt")
    assert harness.plan("12345") == {}
    assert harness.service.pending() == 0


async def test_the_listening_prompt_replaces_the_greeting(harness: Harness) -> None:
    speech_id = uuid.UUID(harness.plan("12345")["HOTLINE_SPEECH_ID"])
    await harness.service.handle_audio(cast(AudioSocketSession, FakeAudioSession(speech_id)))
    assert harness.runtime.handled == [(speech_id, pcm("listen"))]
    [step] = harness.steps("listening")
    assert (step["call_id"], step["speech_id"]) == (CALL_ID, str(speech_id))
    assert step["connect_ms"] >= 0


async def test_without_a_listening_prompt_the_greeting_plays(harness: Harness) -> None:
    harness.listening(prompt=None)
    speech_id = uuid.UUID(harness.plan("12345")["HOTLINE_SPEECH_ID"])
    await harness.service.handle_audio(cast(AudioSocketSession, FakeAudioSession(speech_id)))
    assert harness.runtime.handled == [(speech_id, pcm("greeting"))]


async def test_an_unplanned_audiosocket_call_still_gets_classified(harness: Harness) -> None:
    stranger = uuid.uuid4()
    await harness.service.handle_audio(cast(AudioSocketSession, FakeAudioSession(stranger)))
    assert harness.runtime.handled == [(stranger, b"")]
    assert harness.steps("listening") == []


# --- classify: routing again on what was heard ---------------------------------------------

async def test_a_topic_reroutes_to_its_queue_with_a_screen_pop(harness: Harness) -> None:
    speech_id = harness.plan("12345")["HOTLINE_SPEECH_ID"]
    await harness.hear(speech_id, result_of(heard("social_security")))
    request = await harness.classify(speech_id)
    names = [name for name, _ in request.variables]
    values = dict(request.variables)
    assert names[-1] == "HOTLINE_TARGET_KIND", "the dialplan reads the kind as 'decided'"
    assert all(n.startswith("__HOTLINE_") for n in names[:7]), names
    assert values["HOTLINE_TARGET_KIND"] == "queue"
    assert (values["HOTLINE_QUEUE"], values["HOTLINE_SKILL"]) == ("hl-social_security", "social_security")
    assert values["HOTLINE_PROMPTS"] == "", "the prompts were already played over AudioSocket"
    assert (values["HOTLINE_DIAL"], values["HOTLINE_DIAL_BACKUP"]) == ("", "")
    assert "classified:social_security" in values["HOTLINE_TAGS"].split(",")
    assert values["__HOTLINE_TOPIC"] == "social_security"
    assert values["__HOTLINE_SPEECH_OUTCOME"] == "classified"
    assert values["__HOTLINE_TRANSCRIPT"] == "我想问一下养老保险怎么补缴"
    assert values["HOTLINE_CALL_ID"] == CALL_ID
    assert harness.service.pending() == 0


async def test_the_journal_records_the_classification(harness: Harness) -> None:
    speech_id = harness.plan("12345")["HOTLINE_SPEECH_ID"]
    await harness.hear(speech_id, result_of(heard("social_security")))
    await harness.classify(speech_id)
    [step] = harness.steps("classified")
    assert step["call_id"] == CALL_ID
    assert step["outcome"] == "classified"
    assert step["classification"]["domain"] == "social_security"
    assert step["transcript"] == "我想问一下养老保险怎么补缴"
    assert step["speech"]["speech_started_ms"] == 900
    assert (step["target_kind"], step["queue"], step["dial"]) == ("queue", "hl-social_security", None)
    assert "classified:social_security" in step["tags"]
    assert step["budget_ms"] == 15_000
    assert 0 <= step["budget_used_ms"] <= 15_000 and step["within_budget"] is True


async def test_numbers_the_caller_said_are_masked_in_records_and_screen_pops(
        harness: Harness) -> None:
    said = "我的电话是13800138000，社保卡号 一 三 八 零 零 一 三 八 零 零 零"
    speech_id = harness.plan("12345")["HOTLINE_SPEECH_ID"]
    await harness.hear(speech_id,
                               result_of(heard("social_security", text=said), transcript=said))
    request = await harness.classify(speech_id)
    [step] = harness.steps("classified")
    masked = "我的电话是138******00，社保卡号 一三八******零零"
    assert step["transcript"] == masked
    assert step["classification"]["transcript"] == masked
    assert step["speech"]["transcript"] == masked
    assert dict(request.variables)["__HOTLINE_TRANSCRIPT"] == masked
    assert "13800138000" not in json.dumps(step, ensure_ascii=False)


async def test_an_emergency_dials_its_service_with_the_backup_trunk(harness: Harness) -> None:
    speech_id = harness.plan("12345")["HOTLINE_SPEECH_ID"]
    await harness.hear(speech_id,
                               result_of(heard(emergency="119"), "楼下着火了"))
    request = await harness.classify(speech_id)
    values = dict(request.variables)
    assert values["HOTLINE_TARGET_KIND"] == "emergency"
    assert values["HOTLINE_DIAL"] == "PJSIP/119@emergency"
    assert values["HOTLINE_DIAL_BACKUP"] == "PJSIP/119@emergency-backup"
    assert values["HOTLINE_QUEUE"] == "hl-general", "12345 stays behind the emergency service"
    assert values["HOTLINE_PRIORITY"] == "5"
    assert values["HOTLINE_PROMPTS"] == "", "dialled at once: the caller hears it ring"
    assert values["__HOTLINE_URGENCY"] == "emergency"
    [step] = harness.steps("classified")
    assert (step["target_kind"], step["dial"]) == ("emergency", "PJSIP/119@emergency")
    assert "emergency:119" in step["tags"]


async def test_an_emergency_queues_at_diverted_priority_when_so_configured(harness: Harness) -> None:
    harness.listening(emergency_action=EmergencyAction.QUEUE)
    speech_id = harness.plan("12345")["HOTLINE_SPEECH_ID"]
    await harness.hear(speech_id, result_of(heard(emergency="120"), "有人晕倒了"))
    request = await harness.classify(speech_id)
    values = dict(request.variables)
    assert values["HOTLINE_TARGET_KIND"] == "queue"
    assert (values["HOTLINE_QUEUE"], values["HOTLINE_DIAL"]) == ("hl-general", "")
    assert values["HOTLINE_PRIORITY"] == str(harness.config.rules.acd.priority_diverted_emergency)
    assert values["HOTLINE_PROMPTS"] == ""
    assert "emergency:120" in values["HOTLINE_TAGS"].split(",")


async def test_a_diverted_emergency_caller_with_a_topic_stays_in_the_general_queue(
        harness: Harness) -> None:
    harness.listening(lines=[ListenOn.DIVERTED_EMERGENCY])
    speech_id = harness.plan("110")["HOTLINE_SPEECH_ID"]
    await harness.hear(speech_id, result_of(heard("social_security")))
    values = dict((await harness.classify(speech_id)).variables)
    assert (values["HOTLINE_TARGET_KIND"], values["HOTLINE_QUEUE"]) == ("queue", "hl-general")
    assert values["HOTLINE_PRIORITY"] == "5"
    assert values["__HOTLINE_TOPIC"] == "social_security"  # the agent still sees what was said


async def test_a_result_posted_while_classify_waits_is_used(harness: Harness) -> None:
    speech_id = harness.plan("12345")["HOTLINE_SPEECH_ID"]
    waiting = asyncio.create_task(harness.classify(speech_id), name="test-classify")
    await asyncio.sleep(0.01)
    await harness.hear(speech_id, result_of(heard("social_security")))
    values = dict((await waiting).variables)
    assert values["HOTLINE_QUEUE"] == "hl-social_security"


@pytest.mark.parametrize("args", [(str(uuid.uuid4()),), ("not-a-uuid",), ()])
async def test_an_unknown_speech_id_keeps_the_first_decision(harness: Harness,
                                                             args: tuple[str, ...]) -> None:
    harness.plan("12345")
    request = await harness.classify(*args)
    assert request.variables == []
    [step] = harness.steps("classified")
    assert step["outcome"] == "lost"
    assert step["speech_id"] == (args[0] if args else None)
    assert harness.service.pending() == 1, "another call's plan is left alone"


async def test_a_second_classify_for_the_same_call_is_lost(harness: Harness) -> None:
    speech_id = harness.plan("12345")["HOTLINE_SPEECH_ID"]
    await harness.hear(speech_id, result_of(heard("social_security")))
    assert (await harness.classify(speech_id)).variables
    assert (await harness.classify(speech_id)).variables == []
    assert [s["outcome"] for s in harness.steps("classified")] == ["classified", "lost"]


async def test_no_result_in_time_keeps_the_first_decision(harness: Harness,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listening_service, "RESULT_WAIT_S", 0.05)
    speech_id = harness.plan("12345")["HOTLINE_SPEECH_ID"]
    request = await harness.classify(speech_id)
    assert request.variables == []
    [step] = harness.steps("classified")
    assert step["outcome"] == "no_result"
    assert step["budget_used_ms"] >= 0


async def test_old_plans_are_forgotten_beyond_keep(shipped: EngineConfig, library: PromptLibrary,
                                                   tmp_path: Path) -> None:
    harness = Harness(shipped, library, tmp_path / "calls.jsonl", keep=2)
    first, _second, third = (harness.plan(call_id=f"1.{i}")["HOTLINE_SPEECH_ID"] for i in range(3))
    assert harness.service.pending() == 2
    for speech_id in (first, third):
        await harness.hear(speech_id, result_of(heard("social_security")))
    assert (await harness.classify(first)).variables == []
    assert (await harness.classify(third)).variables != []


# --- the screen-pop variables --------------------------------------------------------------

def test_screen_pop_is_inherited_by_the_agent_channel() -> None:
    variables = screen_pop(result_of(heard("social_security", out_of_scope=OutOfScope.LITIGATION)))
    assert variables == {
        "__HOTLINE_TOPIC": "social_security",
        "__HOTLINE_REQUEST_TYPE": "consultation",
        "__HOTLINE_URGENCY": "normal",
        "__HOTLINE_CONFIDENCE": "0.82",
        "__HOTLINE_OUT_OF_SCOPE": "litigation",
        "__HOTLINE_SPEECH_OUTCOME": "classified",
        "__HOTLINE_TRANSCRIPT": "我想问一下养老保险怎么补缴",
    }


def test_screen_pop_transcript_is_safe_for_the_dialplan_and_bounded() -> None:
    said = '我家,水管|坏了\r\n"快"\\来' + "啊" * 300
    transcript = screen_pop(result_of(heard(), said))["__HOTLINE_TRANSCRIPT"]
    assert not set(transcript) & set(',|"\\\r\n')
    assert transcript.startswith("我家 水管 坏了")
    assert len(transcript) == TRANSCRIPT_MAX


def test_screen_pop_of_silence_is_empty_but_present() -> None:
    variables = screen_pop(PipelineResult(Outcome.NO_SPEECH, Classification.fallback()))
    assert variables["__HOTLINE_TOPIC"] == "general"
    assert variables["__HOTLINE_SPEECH_OUTCOME"] == "no_speech"
    assert (variables["__HOTLINE_TRANSCRIPT"], variables["__HOTLINE_OUT_OF_SCOPE"]) == ("", "")


# --- backup trunks on dial targets ---------------------------------------------------------

def with_subcenter_backup(config: EngineConfig, backup: str) -> EngineConfig:
    endpoints = dict(config.rules.endpoints)
    endpoints["subcenter-12360"] = endpoints["subcenter-12360"].model_copy(
        update={"backup_dial": backup})
    return replace(config, rules=config.rules.model_copy(update={"endpoints": endpoints}))


def variables_of(decision: Decision, library: PromptLibrary) -> dict[str, str]:
    return channel_variables(decision, CALL_ID, library.sound_name, 600)


def test_a_subcenter_target_carries_its_backup_trunk(shipped: EngineConfig,
                                                     library: PromptLibrary) -> None:
    config = with_subcenter_backup(shipped, "PJSIP/12360@subcenters-backup")
    decision = decide(CallFacts(number="12360", at=AT), config)
    assert decision.target.kind is TargetKind.SUBCENTER
    assert decision.target.backup_dial == "PJSIP/12360@subcenters-backup"
    values = variables_of(decision, library)
    assert values["HOTLINE_DIAL"] == "PJSIP/12360@subcenters"
    assert values["HOTLINE_DIAL_BACKUP"] == "PJSIP/12360@subcenters-backup"


def test_targets_without_a_backup_set_it_empty(shipped: EngineConfig, library: PromptLibrary) -> None:
    for number in ("12360", "12345"):
        values = variables_of(decide(CallFacts(number=number, at=AT), shipped), library)
        assert values["HOTLINE_DIAL_BACKUP"] == ""
        assert list(values)[-1] == "HOTLINE_TARGET_KIND"


# --- prompt audio --------------------------------------------------------------------------

def test_prompt_audio_is_the_wav_pcm_back_to_back(library: PromptLibrary) -> None:
    audio = PromptAudio(library)
    assert audio.pcm("listen") == pcm("listen")
    assert audio.sequence(["diverted-emergency", "listen"]) == pcm("diverted-emergency") + pcm("listen")


def test_a_missing_prompt_is_named(library: PromptLibrary) -> None:
    with pytest.raises(PromptAudioError, match="'no-such-prompt'"):
        PromptAudio(library).sequence(["listen", "no-such-prompt"])


@pytest.mark.parametrize(("rate", "channels", "shape"), [(16000, 1, "16000 Hz, 1 channel"),
                                                         (8000, 2, "8000 Hz, 2 channel")])
def test_a_prompt_in_the_wrong_format_is_named(library: PromptLibrary, rate: int, channels: int,
                                               shape: str) -> None:
    path = library.generated_path("greeting")
    write_wav(path, 500, 100, rate=rate, channels=channels)
    with pytest.raises(PromptAudioError) as info:
        PromptAudio(library).pcm("greeting")
    assert str(path) in str(info.value) and shape in str(info.value)


def test_a_broken_wav_is_named(library: PromptLibrary) -> None:
    path = library.generated_path("hold")
    path.write_bytes(b"RIFF\x00\x00")
    with pytest.raises(PromptAudioError, match=str(path)):
        PromptAudio(library).pcm("hold")


def test_a_re_recorded_prompt_is_read_again(library: PromptLibrary) -> None:
    audio = PromptAudio(library)
    assert audio.pcm("listen") == pcm("listen")
    path = library.generated_path("listen")
    stat = path.stat()
    write_wav(path, -7, 50)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert audio.pcm("listen") == (-7).to_bytes(2, "little", signed=True) * 50
