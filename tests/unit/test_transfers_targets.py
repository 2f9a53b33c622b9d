"""What an agent may type as a transfer target, resolved against the shipped configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ivr.catalogue.lookup import find_line
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.routing.rules import OnFailure
from ivr.transfers.model import ResolvedTarget, TargetKind, UnknownTarget
from ivr.transfers.targets import resolve_target

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def shipped() -> EngineConfig:
    config = load_engine_config(REPO)
    assert config.region == "sichuan"  # what these expectations are written for
    return config


def in_region(config: EngineConfig, region: str) -> EngineConfig:
    """The shipped configuration as another region would run it."""
    deployment = config.rules.deployment.model_copy(update={"region": region})
    return dataclasses.replace(config, rules=config.rules.model_copy(update={"deployment": deployment}))


def expert_line(config: EngineConfig) -> str:
    """A line of the configured region that has an expert seat (设专家座席)."""
    numbers = [line.number for line in config.catalogue.regions[config.region].lines if line.expert_seat]
    assert numbers, f"no expert seat in region {config.region}"
    return numbers[0]


def test_a_line_number_with_a_sub_center_goes_to_that_sub_center(shipped: EngineConfig) -> None:
    assert resolve_target("12366", shipped) == ResolvedTarget(
        name="subcenter-12366", kind=TargetKind.SUBCENTER, dial="PJSIP/12366@subcenters",
        answer_s=shipped.rules.timing.subcenter_answer_s, description="税务 tax sub-center",
        backup_dial=None, on_failure=OnFailure.WORKORDER)


def test_the_endpoint_name_is_the_same_target(shipped: EngineConfig) -> None:
    assert resolve_target("subcenter-12366", shipped) == resolve_target("12366", shipped)
    assert resolve_target("  subcenter-12366\n", shipped).name == "subcenter-12366"


@pytest.mark.parametrize("number", ["12360", "12366", "12313", "12367", "12305"])
def test_every_sichuan_sub_center_line_is_reachable(shipped: EngineConfig, number: str) -> None:
    target = resolve_target(number, shipped)
    assert (target.name, target.kind, target.dial) == (
        f"subcenter-{number}", TargetKind.SUBCENTER, f"PJSIP/{number}@subcenters")


def test_line_means_the_sub_center_of_the_dialled_number(shipped: EngineConfig) -> None:
    assert resolve_target("line", shipped, line_number="12366") == resolve_target("12366", shipped)


def test_line_without_a_dialled_number_is_refused(shipped: EngineConfig) -> None:
    with pytest.raises(UnknownTarget, match="no dialled line"):
        resolve_target("line", shipped)
    with pytest.raises(UnknownTarget, match="no dialled line"):
        resolve_target("line", shipped, line_number="")


def test_line_dialled_on_12345_itself_has_no_sub_center(shipped: EngineConfig) -> None:
    with pytest.raises(UnknownTarget, match="line 12345 has no sub-center or kept seats in region sichuan"):
        resolve_target("line", shipped, line_number="12345")


@pytest.mark.parametrize("spec", ["110", "police"])
def test_police_is_an_emergency_target_with_its_backup_trunk(shipped: EngineConfig, spec: str) -> None:
    assert resolve_target(spec, shipped) == ResolvedTarget(
        name="110", kind=TargetKind.EMERGENCY, dial="PJSIP/110@emergency",
        answer_s=shipped.rules.timing.emergency_answer_s, description="emergency 110",
        backup_dial="PJSIP/110@emergency-backup", on_failure=OnFailure.RETURN)


@pytest.mark.parametrize(("spec", "number"), [("fire", "119"), ("ambulance", "120"), ("traffic", "122"),
                                              ("119", "119"), ("120", "120"), ("122", "122")])
def test_other_emergency_services(shipped: EngineConfig, spec: str, number: str) -> None:
    target = resolve_target(spec, shipped)
    assert (target.name, target.kind, target.dial, target.backup_dial) == (
        number, TargetKind.EMERGENCY, f"PJSIP/{number}@emergency", f"PJSIP/{number}@emergency-backup")
    assert target.on_failure is OnFailure.RETURN  # never a work order for an emergency


def test_emergency_wins_over_line_even_when_a_line_number_is_known(shipped: EngineConfig) -> None:
    assert resolve_target("110", shipped, line_number="12366").kind is TargetKind.EMERGENCY


def test_emergency_number_without_a_configured_trunk(shipped: EngineConfig) -> None:
    rules = shipped.rules.model_copy(update={"emergency": {}})
    with pytest.raises(UnknownTarget, match="emergency number 110 has no dial target"):
        resolve_target("110", dataclasses.replace(shipped, rules=rules))


def test_utility_endpoint(shipped: EngineConfig) -> None:
    assert resolve_target("utility-power", shipped) == ResolvedTarget(
        name="utility-power", kind=TargetKind.UTILITY, dial="PJSIP/95598@subcenters",
        answer_s=shipped.rules.timing.subcenter_answer_s, description="供电 power (95598)",
        on_failure=OnFailure.WORKORDER)


def test_department_endpoint(shipped: EngineConfig) -> None:
    target = resolve_target("dept-market-regulation", shipped)
    assert (target.kind, target.dial) == (TargetKind.DEPARTMENT, "PJSIP/12315@subcenters")


def test_expert_seat_goes_through_the_expert_queue(shipped: EngineConfig) -> None:
    anhui = in_region(shipped, "anhui")  # Sichuan's plan names no expert seats
    number = expert_line(anhui)
    match = find_line(anhui.catalogue, "anhui", number)
    assert match is not None and match.expert_seat
    target = resolve_target(f"expert:{number}", anhui)
    assert target == ResolvedTarget(
        name=f"expert:{number}", kind=TargetKind.EXPERT,
        dial=f"Local/expert_{number}@hotline-xfer-queue",
        answer_s=anhui.rules.timing.subcenter_answer_s,
        description=f"expert seat of {match.name} ({number})", on_failure=OnFailure.WORKORDER)
    # the skill name an agent's roster uses works too
    assert resolve_target(f"expert_{number}", anhui) == target


def test_expert_seat_of_a_line_without_one(shipped: EngineConfig) -> None:
    assert not any(line.expert_seat for line in shipped.catalogue.regions["sichuan"].lines)
    with pytest.raises(UnknownTarget, match="line 12333 has no expert seat in region sichuan"):
        resolve_target("expert:12333", shipped)
    with pytest.raises(UnknownTarget, match="line 99999 has no expert seat"):
        resolve_target("expert:99999", shipped)


def test_a_line_without_a_sub_center_is_refused_with_the_reason(shipped: EngineConfig) -> None:
    # 12315 is a dual-number line in Sichuan: 12345 answers it, there is nobody to transfer to
    with pytest.raises(UnknownTarget, match="line 12315 has no sub-center or kept seats in region sichuan"):
        resolve_target("12315", shipped)
    with pytest.raises(UnknownTarget, match="line 12315 has no sub-center"):
        resolve_target("line", shipped, line_number="12315")


@pytest.mark.parametrize("spec", ["subcenter-99999", "tax", "", "expert", "12366x"])
def test_unknown_targets_list_what_would_be_accepted(shipped: EngineConfig, spec: str) -> None:
    with pytest.raises(UnknownTarget) as caught:
        resolve_target(spec, shipped)
    message = str(caught.value)
    assert f"unknown transfer target {spec!r}" in message
    for accepted in ("subcenter-12366", "utility-power", "dept-market-regulation",
                     "110/119/120/122", "expert:<number>"):
        assert accepted in message


def test_unknown_number_of_no_line(shipped: EngineConfig) -> None:
    with pytest.raises(UnknownTarget, match="line 12110 has no sub-center"):
        resolve_target("12110", shipped)


def test_endpoint_marked_not_transferable_is_refused_and_not_offered(shipped: EngineConfig) -> None:
    endpoints = dict(shipped.rules.endpoints)
    endpoints["utility-gas"] = endpoints["utility-gas"].model_copy(update={"transferable": False})
    config = dataclasses.replace(shipped, rules=shipped.rules.model_copy(update={"endpoints": endpoints}))
    with pytest.raises(UnknownTarget, match="'utility-gas' does not take transfers"):
        resolve_target("utility-gas", config)
    with pytest.raises(UnknownTarget) as caught:
        resolve_target("nowhere", config)
    assert "utility-gas" not in str(caught.value) and "utility-water" in str(caught.value)


def test_endpoint_ring_time_backup_and_failure_policy_come_from_the_endpoint(shipped: EngineConfig) -> None:
    endpoints = dict(shipped.rules.endpoints)
    endpoints["utility-water"] = endpoints["utility-water"].model_copy(update={
        "answer_s": 30, "backup_dial": "PJSIP/96116@backup", "on_failure": OnFailure.RETURN})
    config = dataclasses.replace(shipped, rules=shipped.rules.model_copy(update={"endpoints": endpoints}))
    target = resolve_target("utility-water", config)
    assert (target.answer_s, target.backup_dial, target.on_failure) == (
        30, "PJSIP/96116@backup", OnFailure.RETURN)


def test_kept_seats_of_the_dialled_line(mini_config: Path) -> None:
    rules = mini_config / "routing_rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        "kept-seats-12315: {dial: PJSIP/12315@kept-seats}",
        "kept-seats-12315: {dial: PJSIP/12315@kept-seats, kind: kept_seats, answer_s: 15}"),
        encoding="utf-8")
    config = load_engine_config(mini_config)
    target = resolve_target("line", config, line_number="12315")
    assert (target.name, target.kind, target.dial, target.answer_s) == (
        "kept-seats-12315", TargetKind.KEPT_SEATS, "PJSIP/12315@kept-seats", 15)
