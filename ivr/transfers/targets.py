"""Resolving what an agent typed (``12366``, ``subcenter-12366``, ``110``, ``expert:12315``,
``line``) into something to dial."""

from __future__ import annotations

from ivr.catalogue.lookup import find_line
from ivr.catalogue.model import EMERGENCY_NUMBERS
from ivr.config.engine import EngineConfig
from ivr.core.queues import EXPERT_PREFIX
from ivr.routing.rules import EndpointKind, OnFailure
from ivr.transfers.model import ResolvedTarget, TargetKind, UnknownTarget

LINE = "line"  # "the sub-center or kept seats of the number the caller dialled"
EXPERT_QUEUE_CONTEXT = "hotline-xfer-queue"

_EMERGENCY_NAMES = {"police": "110", "fire": "119", "ambulance": "120", "traffic": "122"}


def resolve_target(spec: str, config: EngineConfig, line_number: str | None = None) -> ResolvedTarget:
    """The target ``spec`` names, or :class:`UnknownTarget` saying what would be accepted."""
    spec = spec.strip()
    rules = config.rules
    spec = _EMERGENCY_NAMES.get(spec, spec)
    if spec in EMERGENCY_NUMBERS:
        return _emergency(spec, config)
    if spec == LINE:
        if not line_number:
            raise UnknownTarget("this call has no dialled line to take the sub-center from")
        spec = line_number
    if spec.startswith(("expert:", EXPERT_PREFIX)):
        return _expert(spec.split(":", 1)[-1].removeprefix(EXPERT_PREFIX), config)
    if spec in rules.endpoints:
        return _endpoint(spec, config)
    if spec.isdigit():
        match = find_line(config.catalogue, config.region, spec)
        if match is not None and match.subcenter is not None:
            return _endpoint(match.subcenter.endpoint, config)
        if match is not None and match.kept_seats_endpoint is not None:
            return _endpoint(match.kept_seats_endpoint, config)
        raise UnknownTarget(f"line {spec} has no sub-center or kept seats in region {config.region}")
    known = ", ".join(sorted(n for n, e in rules.endpoints.items() if e.transferable))
    raise UnknownTarget(f"unknown transfer target {spec!r}; use an endpoint ({known}), "
                        "a line number with a sub-center, 110/119/120/122 or expert:<number>")


def _endpoint(name: str, config: EngineConfig) -> ResolvedTarget:
    endpoint = config.rules.endpoints.get(name)
    if endpoint is None:
        raise UnknownTarget(f"endpoint {name!r} is not defined in routing_rules.yaml")
    if not endpoint.transferable:
        raise UnknownTarget(f"endpoint {name!r} does not take transfers (transferable: false)")
    kind = {EndpointKind.SUBCENTER: TargetKind.SUBCENTER, EndpointKind.KEPT_SEATS: TargetKind.KEPT_SEATS,
            EndpointKind.UTILITY: TargetKind.UTILITY, EndpointKind.LEGACY: TargetKind.LEGACY,
            }.get(endpoint.kind, TargetKind.DEPARTMENT)
    return ResolvedTarget(
        name=name, kind=kind, dial=endpoint.dial,
        answer_s=endpoint.answer_s or config.rules.timing.subcenter_answer_s,
        description=endpoint.description or "", backup_dial=endpoint.backup_dial,
        on_failure=endpoint.on_failure)


def _emergency(number: str, config: EngineConfig) -> ResolvedTarget:
    target = config.rules.emergency.get(number)
    if target is None:
        raise UnknownTarget(f"emergency number {number} has no dial target under 'emergency' "
                            "in routing_rules.yaml")
    return ResolvedTarget(
        name=number, kind=TargetKind.EMERGENCY, dial=target.dial,
        answer_s=config.rules.timing.emergency_answer_s,
        description=f"emergency {number}", backup_dial=target.backup_dial,
        on_failure=OnFailure.RETURN)


def _expert(number: str, config: EngineConfig) -> ResolvedTarget:
    match = find_line(config.catalogue, config.region, number)
    if match is None or not match.expert_seat:
        raise UnknownTarget(f"line {number} has no expert seat in region {config.region}")
    skill = f"{EXPERT_PREFIX}{number}"
    return ResolvedTarget(
        name=f"expert:{number}", kind=TargetKind.EXPERT,
        dial=f"Local/{skill}@{EXPERT_QUEUE_CONTEXT}",
        answer_s=config.rules.timing.subcenter_answer_s,
        description=f"expert seat of {match.name} ({number})", on_failure=OnFailure.WORKORDER)
