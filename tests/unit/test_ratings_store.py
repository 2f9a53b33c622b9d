"""Ratings and follow-ups: the service on a real store (SQLite in a temp dir), the
follow-up state machine, satisfaction and the command line."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import stat
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr.agi.codec import AgiEnvironment
from ivr.ami.codec import AmiMessage
from ivr.cli.main import main
from ivr.clock import ShiftedClock
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.config.roster import Roster
from ivr.core.events import Event, FollowUpOpened
from ivr.ratings.model import FollowUpNotFound, FollowUpStatus, IllegalFollowUpTransition, Outcome
from ivr.ratings.parser import Level
from ivr.ratings.report import satisfaction
from ivr.ratings.service import SurveyService, group_of
from ivr.ratings.settings import SurveyRules
from ivr.ratings.store import RatingFilter, RatingStore

TZ = ZoneInfo("Asia/Shanghai")
FRIDAY = datetime(2024, 9, 27, 10, 0, tzinfo=TZ)  # before the 2024 National Day holidays


class Steps:
    def __init__(self) -> None:
        self.steps: list[tuple[str, str, dict[str, Any]]] = []

    def append(self, call_id: str, step: str, at: datetime, **data: Any) -> None:
        self.steps.append((call_id, step, data))


class Session:
    def __init__(self, *args: str) -> None:
        self.env = AgiEnvironment({"agi_network_script": "survey", "agi_uniqueid": "u1",
                                   **{f"agi_arg_{i}": a for i, a in enumerate(args, 1)}})
        self.variables: dict[str, str] = {}

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def set_variables(self, variables: dict[str, str]) -> None:
        self.variables.update(variables)


def rating_event(call_id: str, result: str, keys: str, agent: str = "1001",
                 caller: str = "13800138000") -> AmiMessage:
    return AmiMessage((("Event", "UserEvent"), ("UserEvent", "HotlineRating"),
                       ("Uniqueid", call_id), ("CallerIDNum", caller), ("CallId", call_id),
                       ("Result", result), ("Keys", keys), ("Tries", "1"), ("Agent", agent),
                       ("Skill", "general"), ("Line", "12345")))


@pytest.fixture
def config(mini_config: Path) -> EngineConfig:
    return load_engine_config(mini_config)


@pytest.fixture
def store(tmp_path: Path) -> RatingStore:
    return RatingStore(tmp_path / "run" / "ratings.db")


def service(config: EngineConfig, store: RatingStore, published: list[Event],
            steps: Steps | None = None) -> SurveyService:
    return SurveyService(lambda: config, ShiftedClock(FRIDAY), steps or Steps(), store,
                         lambda p: f"hotline/generated/{p}", published.append)


def test_the_agi_answer_names_prompts_and_agent_and_sets_survey_last(
        config: EngineConfig, store: RatingStore) -> None:
    steps = Steps()
    session = Session("c1", "general", "12345", "PJSIP/agent-1001", "1001")
    asyncio.run(service(config, store, [], steps).handle_agi(session))  # type: ignore[arg-type]
    assert session.variables["HOTLINE_SURVEY_AGENT"] == "1001"
    assert session.variables["HOTLINE_SURVEY_ASK"] == "hotline/generated/rating-ask"
    assert session.variables["HOTLINE_SURVEY_TIMEOUT"] == "5"
    assert list(session.variables)[-1] == "HOTLINE_SURVEY"
    assert session.variables["HOTLINE_SURVEY"] == "1"
    assert steps.steps[0][:2] == ("c1", "survey_started")


def test_a_call_out_of_scope_is_not_surveyed(config: EngineConfig, store: RatingStore) -> None:
    rules = SurveyRules.model_validate({"enabled": True, "include": {"lines": ["12366"]}})
    off = config.rules.model_copy(update={"survey": rules})
    session = Session("c1", "general", "12345", "PJSIP/agent-1001", "1001")
    asyncio.run(service(dataclasses.replace(config, rules=off), store, [])
                .handle_agi(session))  # type: ignore[arg-type]
    assert session.variables == {"HOTLINE_SURVEY": "0"}


def test_a_good_rating_is_stored_and_opens_nothing(config: EngineConfig, store: RatingStore) -> None:
    published: list[Event] = []
    steps = Steps()
    asyncio.run(service(config, store, published, steps).on_ami(rating_event("c2", "rated", "2")))
    rating = store.rating("c2")
    assert rating is not None and rating.level is Level.SATISFIED and rating.label == "满意"
    assert (rating.agent, rating.skill, rating.line) == ("1001", "general", "12345")
    assert published == [] and store.followups() == []
    assert steps.steps[0][1] == "rated" and steps.steps[0][2]["label"] == "满意"


def test_a_bad_rating_opens_a_followup_due_in_working_days(
        config: EngineConfig, store: RatingStore) -> None:
    published: list[Event] = []
    asyncio.run(service(config, store, published).on_ami(rating_event("c3", "rated", "5")))
    [item] = store.followups()
    # Friday 27 Sep 2024: Sun 29 (调休), Mon 30, then 1-7 Oct off: Tue 8, Wed 9, Thu 10
    assert item.due == date(2024, 10, 10)
    assert item.level is Level.VERY_DISSATISFIED and item.caller_masked == "138******00"
    assert item.id == "FU20240927-001" and item.status is FollowUpStatus.OPEN
    assert isinstance(published[0], FollowUpOpened) and published[0].due == "2024-10-10"


def test_not_rated_outcomes_and_one_rating_per_call(config: EngineConfig,
                                                    store: RatingStore) -> None:
    svc = service(config, store, [])
    asyncio.run(svc.on_ami(rating_event("c4", "no_input", "")))
    asyncio.run(svc.on_ami(rating_event("c5", "hangup", "")))
    asyncio.run(svc.on_ami(rating_event("c6", "rated", "9")))  # a key the dialplan let through
    asyncio.run(svc.on_ami(rating_event("c4", "rated", "1")))  # repeated event: ignored
    outcomes = {r.call_id: (r.outcome, r.level) for r in store.ratings()}
    assert outcomes == {"c4": (Outcome.NO_INPUT, None), "c5": (Outcome.HANGUP, None),
                        "c6": (Outcome.NO_INPUT, None)}


def test_followup_state_machine(config: EngineConfig, store: RatingStore) -> None:
    asyncio.run(service(config, store, []).on_ami(rating_event("c7", "rated", "4")))
    [item] = store.followups()
    with pytest.raises(ValueError):
        store.close_followup(item.id, FRIDAY, "   ")
    done = store.close_followup(item.id, FRIDAY, "called back, resolved", "1101")
    assert done.status is FollowUpStatus.DONE and done.note == "called back, resolved"
    with pytest.raises(IllegalFollowUpTransition):
        store.close_followup(item.id, FRIDAY, "again")
    with pytest.raises(FollowUpNotFound):
        store.close_followup("FU1", FRIDAY, "x")
    assert store.followups() == [] and len(store.followups(None)) == 1
    [(seq, closed)] = store.closures_after(0)
    assert closed.id == item.id and store.last_closure() == seq


def test_the_database_is_private(store: RatingStore) -> None:
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


def test_groups_come_from_the_supervisors() -> None:
    roster = Roster.model_validate({"version": 1, "agents": [
        {"id": "1", "name": "a", "interface": "PJSIP/agent-1", "skills": {"general": 5}},
        {"id": "2", "name": "b", "interface": "PJSIP/agent-2", "skills": {"tax": 5}},
        {"id": "3", "name": "c", "interface": "PJSIP/agent-3", "skills": {"water": 5}}],
        "supervisors": [
            {"id": "s1", "name": "x", "interface": "PJSIP/s-1", "skills": ["general", "tax"]},
            {"id": "s2", "name": "y", "interface": "PJSIP/s-2", "agents": ["2"]}]})
    assert group_of(roster, "1", "quality") == "s1"
    assert group_of(roster, "2", "quality") == "s2"  # named explicitly beats a skill
    assert group_of(roster, "3", "quality") == "quality"
    assert group_of(roster, None, "quality") == "quality"


def test_satisfaction_counts_rated_calls_only(config: EngineConfig, store: RatingStore) -> None:
    svc = service(config, store, [])
    for i, (result, keys, agent) in enumerate([("rated", "1", "1001"), ("rated", "3", "1001"),
                                               ("rated", "4", "1005"), ("no_input", "", "1005")]):
        asyncio.run(svc.on_ami(rating_event(f"s{i}", result, keys, agent)))
    [total] = satisfaction(store.ratings())
    assert (total.surveyed, total.rated, total.not_rated) == (4, 3, 1)
    assert total.satisfaction == pytest.approx(2 / 3)
    by_agent = {s.key: s.satisfaction for s in satisfaction(store.ratings(), lambda r: r.agent)}
    assert by_agent == {"1001": 1.0, "1005": 0.0}
    assert [r.call_id for r in store.ratings(RatingFilter(level=0))] == ["s3"]
    assert [r.call_id for r in store.ratings(RatingFilter(agent="1005", level=4))] == ["s2"]


def test_the_commands(config: EngineConfig, store: RatingStore,
                      capsys: pytest.CaptureFixture[str]) -> None:
    svc = service(config, store, [])
    asyncio.run(svc.on_ami(rating_event("k1", "rated", "2")))
    asyncio.run(svc.on_ami(rating_event("k2", "rated", "5")))
    db = str(store.path)
    assert main(["ratings", "--db", db, "--period", "2024-09", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"]["rated"] == 2 and out["total"]["satisfaction"] == 0.5
    assert out["total"]["distribution"]["非常不满意"] == 1
    assert main(["ratings", "--db", db, "--period", "2024-10"]) == 0
    assert "no ratings match" in capsys.readouterr().out
    assert main(["followups", "--db", db, "--today", "2024-10-11"]) == 0
    listing = capsys.readouterr().out
    assert "FU20240927-001" in listing and "2024-10-10" in listing and "OVERDUE" in listing
    assert "13800138000" not in listing and "138******00" in listing
    assert main(["followups", "done", "FU20240927-001", "--note", "回访完毕", "--db", db]) == 0
    capsys.readouterr()
    assert main(["followups", "done", "FU20240927-001", "--note", "again", "--db", db]) == 1
    assert "is done" in capsys.readouterr().err
    assert main(["followups", "--db", db]) == 0
    assert "no open follow-ups" in capsys.readouterr().out


def test_the_dialplan_reads_what_the_survey_request_sets(config: EngineConfig,
                                                         store: RatingStore) -> None:
    """[hotline-survey] uses every variable the AGI answer sets, and the queue continues
    (option c) only into the survey when an agent took the call."""
    template = (Path(__file__).resolve().parents[2] / "dialplans" / "extensions.conf.tmpl"
                ).read_text(encoding="utf-8")
    survey = template.split("[hotline-survey]", 1)[1].split("\n[", 1)[0]
    session = Session("c1", "general", "12345", "PJSIP/agent-1001", "1001")
    asyncio.run(service(config, store, []).handle_agi(session))  # type: ignore[arg-type]
    for name in session.variables:
        assert "${" + name + "}" in survey, name
    assert "AGI(${HOTLINE_AGI}/survey," in survey
    assert survey.count("UserEvent(HotlineRating,") == 3  # rated, no input, hang-up
    queue = template.split("[hotline-queue]", 1)[1].split("\n[", 1)[0]
    assert queue.index("Set(MEMBERINTERFACE=)") < queue.index("Queue(${HOTLINE_QUEUE},c,")
    assert queue.index("?hotline-survey,s,1)") < queue.index("UserEvent(HotlineQueueResult")
