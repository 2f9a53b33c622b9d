"""The routing decision: the one function that both ``hotline route`` and live calls use."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from ivr.catalogue.lookup import LineMatch, Phase, find_line, phase_of
from ivr.catalogue.model import EMERGENCY_NUMBERS, MergeMode, RemarkKind
from ivr.config.engine import EngineConfig
from ivr.core.queues import initial_max_penalty, queue_name, queue_rule
from ivr.masking import mask_number
from ivr.routing.rules import CancelledPolicy
from ivr.speech.classify import Classification
from ivr.speech.settings import EmergencyAction


class TargetKind(StrEnum):
    """Where the dialplan sends the call after the prompts."""

    QUEUE = "queue"  # 12345 agents with a skill
    EXPERT = "expert"  # a department's expert seat in the 12345 centre
    KEPT_SEATS = "kept_seats"  # a dual-number line's own seats (Fujian), 12345 behind
    SUBCENTER = "subcenter"  # a vertically managed line's sub-center, 12345 behind
    LEGACY = "legacy"  # the old line's own handling before it merges
    EMERGENCY = "emergency"  # 110/119/120/122
    VOICEMAIL = "voicemail"
    HANGUP = "hangup"


class LineMode(StrEnum):
    """The kind of number dialled."""

    MAIN = "main"
    WHOLE_MERGE = "whole_merge"
    DUAL_NUMBER = "dual_number"
    SUB_CENTER = "sub_center"
    EMERGENCY = "emergency"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CallFacts:
    """What the engine knows about a call when it decides."""

    number: str
    at: datetime
    caller: str | None = None
    region: str | None = None
    utterance: str | None = None
    repeat_caller: bool = False
    classification: Classification | None = None  # what the caller said, pre-classified


@dataclass(frozen=True)
class Target:
    """Where the call goes: a queue of 12345 agents, or a dial target with a queue behind it."""

    kind: TargetKind
    skill: str | None = None
    queue: str | None = None  # the ACD queue (first choice, or behind a dial target)
    queue_rule: str | None = None
    max_penalty: int | None = None  # the ACD penalty band the call may reach at once
    dial: str | None = None  # a sub-center, kept seats, legacy line or emergency service
    backup_dial: str | None = None  # tried when ``dial`` does not answer (a backup trunk)
    number: str | None = None
    endpoint: str | None = None
    timeout_s: int | None = None  # ring time of ``dial``, or the longest wait in ``queue``
    priority: int = 0


@dataclass(frozen=True)
class LineInfo:
    """The line the dialled number belongs to."""

    number: str
    name: str
    mode: LineMode
    department: str | None = None
    domain: str | None = None
    plan_item: str | None = None
    remark: str | None = None


@dataclass(frozen=True)
class Decision:
    """Everything the dialplan needs, and everything a log or dry-run shows."""

    number: str
    region: str
    local_date: date
    line: LineInfo
    phase: Phase
    prompts: list[str]
    target: Target
    tags: list[str] = field(default_factory=list)
    caller_masked: str | None = None
    utterance: str | None = None
    classification: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as strings, None values dropped from the target)."""
        data = asdict(self)
        data["local_date"] = self.local_date.isoformat()
        data["target"] = {k: v for k, v in data["target"].items() if v is not None}
        data["line"] = {k: v for k, v in data["line"].items() if v is not None}
        data["caller"] = data.pop("caller_masked")
        return data


def decide(facts: CallFacts, config: EngineConfig) -> Decision:
    """Route one call by dialled number, region and date, then by what the caller said."""
    decision = _decide_by_number(facts, config)
    return _apply_classification(decision, facts, config) if facts.classification else decision


def _apply_classification(decision: Decision, facts: CallFacts, config: EngineConfig) -> Decision:
    """An emergency goes straight to its service; 12345 callers go to the domain they named."""
    heard = facts.classification
    assert heard is not None
    rules = config.rules
    tags = list(decision.tags)
    target = decision.target
    if heard.out_of_scope is not None:
        tags.append(f"out_of_scope:{heard.out_of_scope.value}")
    if heard.is_emergency and heard.emergency_number in rules.emergency:
        service = rules.emergency[heard.emergency_number]
        behind = _queue(config, "general", facts, rules.acd.priority_diverted_emergency)
        if rules.listening.emergency_action is EmergencyAction.DIAL:
            target = Target(TargetKind.EMERGENCY, skill="general", dial=service.dial,
                            backup_dial=service.backup_dial, number=heard.emergency_number,
                            queue=behind.queue, queue_rule=behind.queue_rule,
                            max_penalty=behind.max_penalty,
                            timeout_s=rules.timing.emergency_answer_s, priority=behind.priority)
        else:
            target = behind
        tags.append(f"emergency:{heard.emergency_number}")
    elif decision.line.mode in (LineMode.MAIN, LineMode.UNKNOWN) and heard.domain != "general":
        target = _queue(config, heard.domain, facts, target.priority)
        tags.append(f"classified:{heard.domain}")
    return replace(decision, target=target, tags=tags, classification=heard.to_json())


def _decide_by_number(facts: CallFacts, config: EngineConfig) -> Decision:
    """Route one call by dialled number, region and date (the region's local date)."""
    region_key = facts.region or config.region
    if region_key not in config.catalogue.regions:
        raise KeyError(f"unknown region {region_key!r}")
    region = config.catalogue.regions[region_key]
    today = facts.at.astimezone(ZoneInfo(region.timezone)).date()
    rules = config.rules
    number = facts.number
    common: dict[str, Any] = {
        "number": number,
        "region": region_key,
        "local_date": today,
        "caller_masked": mask_number(facts.caller) if facts.caller else None,
        "utterance": facts.utterance,
    }
    greeting = [rules.prompts.greeting]
    if number == region.main_number:
        line = LineInfo(number, "12345政务服务便民热线", LineMode.MAIN, domain="general")
        return Decision(line=line, phase=Phase.ACTIVE, prompts=greeting,
                        target=_queue(config, "general", facts), **common)
    if number in EMERGENCY_NUMBERS:
        emergency = next(e for e in config.catalogue.emergency if e.number == number) \
            if any(e.number == number for e in config.catalogue.emergency) else None
        name = emergency.name if emergency else number
        line = LineInfo(number, name, LineMode.EMERGENCY, domain="general")
        return Decision(line=line, phase=Phase.ACTIVE,
                        prompts=[rules.prompts.diverted_emergency],
                        target=_queue(config, "general", facts,
                                      rules.acd.priority_diverted_emergency),
                        tags=["diverted", f"diverted_from:{number}"], **common)
    match = find_line(config.catalogue, region_key, number)
    if match is None:
        line = LineInfo(number, "未知号码", LineMode.UNKNOWN, domain="general")
        return Decision(line=line, phase=Phase.ACTIVE, prompts=greeting,
                        target=_queue(config, "general", facts), tags=["unknown_number"],
                        **common)
    return _decide_line(match, today, config, region_key, facts, common)


def _decide_line(
    match: LineMatch, today: date, config: EngineConfig, region_key: str, facts: CallFacts,
    common: dict[str, Any],
) -> Decision:
    rules = config.rules
    phase = phase_of(match, config.catalogue.regions[region_key], today)
    info = LineInfo(match.number, match.name, LineMode(match.mode.value), match.department,
                    match.domain, match.plan_item, match.remark.text if match.remark else None)
    tags = [f"line:{match.number}"] + (["local_line"] if match.local else [])
    if match.remark is not None:
        tags.append(f"remark:{match.remark.kind.value}")
    agents = _agents_for(match, config, region_key, facts)
    if phase is Phase.NOT_YET_MERGED:
        legacy = _legacy(match, config, facts)
        if legacy is not None:
            return Decision(line=info, phase=phase, prompts=[], target=legacy,
                            tags=[*tags, "before_start"], **common)
        # No expert seat or kept seats yet: 12345 with the line's skill takes the call.
        return Decision(line=info, phase=phase, prompts=[rules.prompts.greeting],
                        target=_queue(config, match.domain, facts),
                        tags=[*tags, "before_start", "no_legacy_endpoint"], **common)
    if match.mode is MergeMode.WHOLE_MERGE:
        if phase is Phase.TRANSITION:
            prompt = ("transition-generic" if match.pattern
                      else f"{region_key}/transition-{match.number}")
            return Decision(line=info, phase=phase, prompts=[prompt], target=agents,
                            tags=tags, **common)
        prompts = [rules.prompts.not_in_service]
        if rules.cancelled_policy is CancelledPolicy.ANNOUNCE_ONLY:
            return Decision(line=info, phase=phase, prompts=prompts,
                            target=Target(TargetKind.HANGUP), tags=tags, **common)
        return Decision(line=info, phase=phase, prompts=prompts, target=agents,
                        tags=tags, **common)
    if match.mode is MergeMode.SUB_CENTER and match.subcenter is not None:
        endpoint = rules.endpoints[match.subcenter.endpoint]
        target = Target(TargetKind.SUBCENTER, skill=match.domain, dial=endpoint.dial,
                        backup_dial=endpoint.backup_dial, endpoint=match.subcenter.endpoint,
                        number=match.number,
                        queue=agents.queue, queue_rule=agents.queue_rule,
                        max_penalty=agents.max_penalty,
                        timeout_s=rules.timing.subcenter_answer_s, priority=agents.priority)
        return Decision(line=info, phase=phase, prompts=[rules.prompts.transfer],
                        target=target, tags=tags, **common)
    return Decision(line=info, phase=phase, prompts=[rules.prompts.greeting], target=agents,
                    tags=tags, **common)


def _queue(config: EngineConfig, skill: str, facts: CallFacts, priority: int = 0,
           kind: TargetKind = TargetKind.QUEUE) -> Target:
    acd = config.rules.acd
    if facts.repeat_caller:
        priority = max(priority, acd.priority_repeat_caller)
    return Target(kind, skill=skill, queue=queue_name(skill), queue_rule=queue_rule(skill, acd),
                  max_penalty=initial_max_penalty(skill, acd), timeout_s=acd.max_wait_s,
                  priority=priority)


def _agents_for(match: LineMatch, config: EngineConfig, region_key: str,
                facts: CallFacts) -> Target:
    """The 12345 side of a line: kept seats, expert seat or the skill queue."""
    rules = config.rules
    effective = match
    if match.remark is not None and match.remark.kind is RemarkKind.MERGED_INTO \
            and match.remark.number != config.catalogue.regions[region_key].main_number:
        merged = find_line(config.catalogue, region_key, match.remark.number or "")
        if merged is not None:
            effective = merged
    queue = _queue(config, effective.domain, facts)
    if effective.kept_seats_endpoint is not None:
        endpoint = rules.endpoints[effective.kept_seats_endpoint]
        return Target(TargetKind.KEPT_SEATS, skill=effective.domain, dial=endpoint.dial,
                      endpoint=effective.kept_seats_endpoint, number=effective.number,
                      queue=queue.queue, queue_rule=queue.queue_rule,
                      max_penalty=queue.max_penalty, timeout_s=rules.timing.kept_seats_answer_s,
                      priority=queue.priority)
    if effective.expert_seat:
        expert = _queue(config, f"expert_{effective.number}", facts, kind=TargetKind.EXPERT)
        return Target(TargetKind.EXPERT, skill=expert.skill, queue=expert.queue,
                      queue_rule=expert.queue_rule, max_penalty=expert.max_penalty,
                      number=effective.number,
                      timeout_s=expert.timeout_s, priority=expert.priority)
    return queue


def _legacy(match: LineMatch, config: EngineConfig, facts: CallFacts) -> Target | None:
    """The old line's own seats before its start date, when one is configured.

    In order: the line's ``before_merge_endpoint``, ``deployment.legacy`` by number then by
    department, a sub-center's own endpoint (it keeps its seats), a dual line's kept seats.
    Never an emergency centre: a remark "由119兼职接听" only records who answered before.
    12345 agents with the line's skill stand behind, so the call is never lost.
    """
    rules = config.rules
    name = (match.before_merge_endpoint
            or rules.deployment.legacy_endpoint(match.number, match.department)
            or (match.subcenter.endpoint if match.subcenter is not None else None)
            or match.kept_seats_endpoint)
    if name is None or name not in rules.endpoints:
        return None
    endpoint = rules.endpoints[name]
    behind = _queue(config, match.domain, facts)
    return Target(TargetKind.LEGACY, skill=match.domain, dial=endpoint.dial,
                  backup_dial=endpoint.backup_dial, endpoint=name, number=match.number,
                  queue=behind.queue, queue_rule=behind.queue_rule,
                  max_penalty=behind.max_penalty,
                  timeout_s=endpoint.answer_s or rules.timing.agent_ring_s,
                  priority=behind.priority)


def decide_match(match: LineMatch, facts: CallFacts, config: EngineConfig) -> Decision:
    """The decision for a catalogue line or pattern as such (the admin views' routing table)."""
    region_key = facts.region or config.region
    region = config.catalogue.regions[region_key]
    today = facts.at.astimezone(ZoneInfo(region.timezone)).date()
    common: dict[str, Any] = {"number": match.number, "region": region_key, "local_date": today,
                              "caller_masked": None, "utterance": None}
    return _decide_line(match, today, config, region_key, facts, common)
