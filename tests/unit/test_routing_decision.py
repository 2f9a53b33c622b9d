"""The routing decision over the small test catalogue: prompts, phases and targets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.config.engine import EngineConfig, load_engine_config
from ivr.routing.decision import CallFacts, Decision, decide

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def config(mini_config: Path) -> EngineConfig:
    return load_engine_config(mini_config)


def route(config: EngineConfig, number: str, day: str, hour: int = 10,
          caller: str | None = None) -> Decision:
    y, m, d = (int(x) for x in day.split("-"))
    at = datetime(y, m, d, hour, tzinfo=SHANGHAI)
    return decide(CallFacts(number=number, at=at, caller=caller), config)


def test_main_number_plays_greeting_and_queues_general(config: EngineConfig) -> None:
    decision = route(config, "12345", "2021-07-01")
    assert decision.line.mode == "main"
    assert decision.prompts == ["greeting"]
    assert (decision.target.kind, decision.target.skill) == ("queue", "general")
    assert (decision.target.queue, decision.target.queue_rule) == ("hl-general", "")


def test_repeat_caller_moves_up(config: EngineConfig) -> None:
    at = datetime(2022, 1, 1, 10, tzinfo=SHANGHAI)
    first = decide(CallFacts(number="12345", at=at, caller="13800000000"), config)
    again = decide(CallFacts(number="12345", at=at, caller="13800000000", repeat_caller=True),
                   config)
    assert (first.target.priority, again.target.priority) == (0, 3)


@pytest.mark.parametrize(("day", "phase", "prompts"), [
    ("2021-05-31", "not_yet_merged", ["greeting"]),
    ("2021-06-01", "transition", ["testland/transition-12396"]),
    ("2021-09-30", "transition", ["testland/transition-12396"]),
    ("2021-10-01", "cancelled", ["not-in-service"]),
])
def test_whole_merge_window_edges(config: EngineConfig, day: str, phase: str,
                                  prompts: list[str]) -> None:
    decision = route(config, "12396", day)
    assert (decision.phase, decision.prompts) == (phase, prompts)
    assert decision.target.kind == "queue"
    assert decision.target.skill == "science_technology"


def test_local_date_is_shanghai_time(config: EngineConfig) -> None:
    # 2021-05-31T16:30Z is already 1 June 00:30 in Shanghai: the transition has begun.
    at = datetime(2021, 5, 31, 16, 30, tzinfo=ZoneInfo("UTC"))
    decision = decide(CallFacts(number="12396", at=at), config)
    assert decision.phase == "transition"


def test_cancelled_policy_announce_only_hangs_up(mini_config: Path) -> None:
    rules = mini_config / "routing_rules.yaml"
    rules.write_text(rules.read_text().replace("cancelled_policy: announce_and_connect",
                                               "cancelled_policy: announce_only"))
    decision = route(load_engine_config(mini_config), "12396", "2022-01-01")
    assert decision.prompts == ["not-in-service"]
    assert decision.target.kind == "hangup"


def test_merged_into_other_line_routes_as_that_line(config: EngineConfig) -> None:
    decision = route(config, "12330", "2021-07-01")
    assert decision.line.mode == "whole_merge"
    assert decision.prompts == ["testland/transition-12330"]
    assert decision.target.kind == "kept_seats"
    assert decision.target.number == "12315"


def test_answered_by_119_never_dials_the_119_centre(config: EngineConfig) -> None:
    # Issue 17: 由119兼职接听 records who answered before; a fire-hazard report is not an
    # emergency, so before its window 96119 reaches 12345 (no legacy endpoint here).
    decision = route(config, "96119", "2021-05-01")
    assert decision.phase == "not_yet_merged"
    assert decision.target.kind == "queue" and decision.target.dial is None
    assert decision.target.skill == "fire_safety"
    assert "no_legacy_endpoint" in decision.tags


def test_dual_number_expert_seat_and_activation_date(config: EngineConfig) -> None:
    before = route(config, "12333", "2021-10-15")
    assert before.phase == "not_yet_merged"
    after = route(config, "12333", "2021-10-16")
    assert after.phase == "active"
    assert (after.target.kind, after.target.skill) == ("expert", "expert_12333")
    assert (after.target.queue, after.target.queue_rule) == ("hl-expert_12333", "hl-widen-expert")


def test_kept_seats_fall_back_to_12345_agents(config: EngineConfig) -> None:
    decision = route(config, "12315", "2022-01-01")
    assert decision.target.kind == "kept_seats"
    assert decision.target.dial == "PJSIP/12315@kept-seats"
    assert decision.target.queue == "hl-market_supervision"
    assert decision.target.timeout_s == 15


def test_sub_center_transfers_with_12345_behind(config: EngineConfig) -> None:
    decision = route(config, "12366", "2022-01-01")
    assert decision.line.mode == "sub_center"
    assert decision.prompts == ["transfer-connecting"]
    assert (decision.target.kind, decision.target.dial) == ("subcenter", "PJSIP/12366@subcenters")
    assert decision.target.queue == "hl-tax"


def test_diverted_emergency_call_is_tagged_and_prioritised(config: EngineConfig) -> None:
    decision = route(config, "110", "2022-01-01")
    assert decision.line.mode == "emergency"
    assert "diverted_from:110" in decision.tags
    assert decision.target.kind == "queue" and decision.target.priority > 0


def test_unknown_number_takes_main_flow(config: EngineConfig) -> None:
    decision = route(config, "88888888", "2022-01-01")
    assert decision.line.mode == "unknown"
    assert decision.prompts == ["greeting"]
    assert "unknown_number" in decision.tags


def test_local_pattern_uses_local_schedule(config: EngineConfig) -> None:
    decision = route(config, "96555", "2021-07-31")
    assert decision.line.mode == "whole_merge" and decision.phase == "transition"
    assert route(config, "96555", "2021-08-01").phase == "cancelled"


def test_caller_is_masked_in_json(config: EngineConfig) -> None:
    data = route(config, "12345", "2022-01-01", caller="13812345678").to_json()
    assert data["caller"] == "138******78"
    assert "13812345678" not in str(data)


def test_local_pattern_has_one_shared_transition_prompt(config: EngineConfig) -> None:
    assert route(config, "96555", "2021-07-01").prompts == ["transition-generic"]


# --- what the caller said (speech pre-classification) ---------------------------------

REPO = Path(__file__).resolve().parents[2]


def heard(text: str) -> object:
    from ivr.speech.classify import classify
    from ivr.speech.nb import load_ngram_model
    from ivr.speech.rules import load_rules

    rules = load_rules(REPO / "tests" / "fixtures" / "speech" / "classification.yaml")
    return classify(text, rules, load_ngram_model())


def route_heard(config: EngineConfig, number: str, text: str) -> Decision:
    at = datetime(2022, 1, 1, 10, tzinfo=SHANGHAI)
    return decide(CallFacts(number=number, at=at, utterance=text,
                            classification=heard(text)), config)  # type: ignore[arg-type]


def test_emergency_utterance_goes_to_its_service_not_the_queue(config: EngineConfig) -> None:
    decision = route_heard(config, "12345", "我家楼下着火了，火很大，快来人")
    assert (decision.target.kind, decision.target.number) == ("emergency", "119")
    assert decision.target.dial == "PJSIP/119@emergency"
    assert decision.classification is not None
    assert decision.classification["urgency"] == "emergency"


def test_12345_caller_goes_to_the_domain_they_named(config: EngineConfig) -> None:
    decision = route_heard(config, "12345", "我想问一下养老保险断缴了怎么补缴")
    assert (decision.target.kind, decision.target.queue) == ("queue", "hl-social_security")
    assert "classified:social_security" in decision.tags


def test_legacy_line_keeps_its_own_domain(config: EngineConfig) -> None:
    decision = route_heard(config, "12396", "我想问一下养老保险断缴了怎么补缴")
    assert decision.target.skill == "science_technology"


def test_out_of_scope_is_tagged_and_still_answered(config: EngineConfig) -> None:
    decision = route_heard(config, "12345", "我的案子已经在法院起诉了，想问问判决什么时候出来")
    assert any(t.startswith("out_of_scope:") for t in decision.tags), decision.tags
    assert decision.target.kind == "queue"
