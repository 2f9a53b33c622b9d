"""The survey after the agent hangs up: the dialplan asks (``survey`` AGI), collects the
key itself (``[hotline-survey]``) and reports the result (``HotlineRating`` user event).

The controller only answers whether the call is surveyed and with which prompts, then
records what the dialplan reports. If the controller is down or errs, the dialplan thanks
the caller and hangs up: a controller error never keeps a caller on the line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from ivr.agi.server import AgiSession
from ivr.ami.codec import AmiMessage
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.config.roster import Roster, interface_of
from ivr.core.events import Event, FollowUpOpened, StepRecorder
from ivr.ratings.model import Outcome, Rating
from ivr.ratings.parser import parse_rating
from ivr.ratings.settings import FollowUpRules, SurveyRules
from ivr.ratings.store import LOCAL_TZ, NewFollowUp, RatingStore
from ivr.ratings.workdays import WorkCalendar

log = logging.getLogger(__name__)

RATING_EVENT = "HotlineRating"
MAX_TRIES = 2  # the prompt and one re-prompt


def agent_of(roster: Roster, interface: str, member_name: str) -> str | None:
    """The roster agent behind a queue member (its phone, else the member name)."""
    if interface:
        agent = roster.by_interface(interface) or roster.by_interface(interface_of(interface))
        if agent is not None:
            return agent.id
    if member_name and roster.by_id(member_name) is not None:
        return member_name
    return member_name or None


def group_of(roster: Roster, agent_id: str | None, default: str) -> str:
    """The supervisor group of an agent: a supervisor who lists the agent, else one who
    covers one of the agent's skills (agents.yaml order), else ``default``."""
    agent = roster.by_id(agent_id) if agent_id else None
    if agent is None:
        return default
    for supervisor in roster.supervisors:
        if agent.id in supervisor.agents:
            return supervisor.id
    for supervisor in roster.supervisors:
        if supervisor.may_supervise(agent):
            return supervisor.id
    return default


def due_date(rules: FollowUpRules, at: datetime) -> NewFollowUp:
    """The follow-up's due date (without its group and caller)."""
    calendar = WorkCalendar.of(rules.holidays, rules.makeup_days)
    return NewFollowUp(due=calendar.add_working_days(at.astimezone(LOCAL_TZ).date(),
                                                     rules.working_days),
                       group=rules.default_group, caller=None)


def rating_from_event(event: AmiMessage, at: datetime) -> Rating:
    """The :class:`Rating` a ``HotlineRating`` user event reports."""
    keys = event.get("Keys")
    result = event.get("Result")
    level = parse_rating(keys) if result == Outcome.RATED else None
    if level is not None:
        outcome = Outcome.RATED
    elif result == Outcome.HANGUP:
        outcome = Outcome.HANGUP
    else:
        outcome = Outcome.NO_INPUT
    tries = event.get("Tries")
    return Rating(call_id=event.get("CallId") or event.get("Uniqueid"), at=at, outcome=outcome,
                  level=level, agent=event.get("Agent") or None,
                  skill=event.get("Skill") or None, line=event.get("Line") or None,
                  keys=keys[:8], tries=int(tries) if tries.isdigit() else 0)


class SurveyService:
    """Answers the ``survey`` AGI request and records the ratings the dialplan reports."""

    def __init__(self, config: Callable[[], EngineConfig], clock: Clock, steps: StepRecorder,
                 store: RatingStore, sound_name: Callable[[str], str],
                 publish: Callable[[Event], None]) -> None:
        self._config = config
        self._clock = clock
        self._steps = steps
        self._store = store
        self._sound = sound_name
        self._publish = publish

    @property
    def rules(self) -> SurveyRules:
        return self._config().rules.survey

    async def handle_agi(self, session: AgiSession) -> None:
        """``survey`` CALL_ID SKILL LINE MEMBERINTERFACE MEMBERNAME: sets HOTLINE_SURVEY
        (1 to survey, last) and the prompts, timeout and agent the dialplan needs."""
        args = [*session.env.args, "", "", "", "", ""]
        call_id, skill, line, interface, member = (a.strip() for a in args[:5])
        call_id = call_id or session.env.get("uniqueid")
        rules = self.rules
        if not rules.surveys(line or None, skill or None):
            await session.set_variable("HOTLINE_SURVEY", "0")
            return
        agent = agent_of(self._config().roster, interface, member)
        await session.set_variables({
            "HOTLINE_SURVEY_AGENT": agent or "",
            "HOTLINE_SURVEY_ASK": self._sound(rules.prompts.ask),
            "HOTLINE_SURVEY_RETRY": self._sound(rules.prompts.retry),
            "HOTLINE_SURVEY_THANKS": self._sound(rules.prompts.thanks),
            "HOTLINE_SURVEY_TIMEOUT": str(rules.timeout_s),
            "HOTLINE_SURVEY": "1",
        })
        self._steps.append(call_id, "survey_started", self._clock.now(), agent=agent,
                           skill=skill or None, line=line or None)

    async def on_ami(self, event: AmiMessage) -> None:
        """A ``HotlineRating`` user event: store the rating, open a follow-up if bad."""
        if event.event != "UserEvent" or event.get("UserEvent") != RATING_EVENT:
            return
        now = self._clock.now()
        rating = rating_from_event(event, now)
        followup = None
        if rating.level is not None and rating.level.is_bad:
            rules = self.rules.followup
            due = due_date(rules, now)
            caller = event.get("CallerIDNum")
            followup = NewFollowUp(
                due=due.due, group=group_of(self._config().roster, rating.agent,
                                            rules.default_group),
                caller=caller if caller and caller != "<unknown>" else None)
        stored = await asyncio.to_thread(self._store.record, rating, followup)
        if stored is None:
            log.info("rating of call %s already recorded; repeated event ignored", rating.call_id)
            return
        rating, opened = stored
        level = None if rating.level is None else int(rating.level)
        self._steps.append(rating.call_id, "rated", now, level=level,
                           label=rating.label, outcome=str(rating.outcome), agent=rating.agent,
                           skill=rating.skill, line=rating.line, tries=rating.tries)
        log.info("call %s rated %s (%s) agent %s", rating.call_id, rating.label,
                 rating.outcome, rating.agent or "-")
        if opened is not None:
            self._publish(FollowUpOpened(at=now, followup_id=opened.id, call_id=opened.call_id,
                                         group=opened.group, agent=opened.agent,
                                         level=int(opened.level), due=opened.due.isoformat()))
            log.info("follow-up %s opened for group %s, due %s (caller %s)", opened.id,
                     opened.group, opened.due, opened.caller_masked or "-")
