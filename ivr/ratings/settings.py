"""Schema of the ``survey:`` section of ``routing_rules.yaml`` (docs/ratings.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field, model_validator

from ivr.catalogue.model import Identifier, Number
from ivr.config.validate import StrictModel

GroupId = Annotated[str, Field(pattern=r"^[0-9A-Za-z_\-]{1,32}$")]


class SurveyScope(StrictModel):
    """Which calls are surveyed: empty lists mean every line / every skill."""

    lines: list[Number] = []  # dialled numbers, e.g. "12345"
    skills: list[Identifier] = []  # the decision's skill, e.g. "general"


class SurveyPrompts(StrictModel):
    """Prompt ids (recordings/prompts.yaml or a studio file in recordings/custom/)."""

    ask: Identifier = "rating-ask"
    retry: Identifier = "rating-retry"  # after no (valid) key: asked once more
    thanks: Identifier = "rating-thanks"


class FollowUpRules(StrictModel):
    """Follow-up (回访) of every 不满意 / 非常不满意 rating."""

    working_days: int = Field(
        5, ge=1, le=60, description="due this many working days after the rating (5 to 15 "
                                    "in the regional rules)")
    default_group: GroupId = Field(
        "quality", description="who follows up when no supervisor in agents.yaml covers the agent")
    holidays: list[date] = []  # public holidays (法定节假日) that fall on working days
    makeup_days: list[date] = []  # 调休: weekend days that are worked

    @model_validator(mode="after")
    def _days_consistent(self) -> FollowUpRules:
        both = sorted(set(self.holidays) & set(self.makeup_days))
        if both:
            raise ValueError(f"{both[0].isoformat()} is both a holiday and a make-up day")
        weekday = next((d for d in self.makeup_days if d.weekday() < 5), None)
        if weekday is not None:
            raise ValueError(f"make-up day {weekday.isoformat()} is a weekday (调休 days are "
                             "Saturdays or Sundays that are worked)")
        return self


class SurveyRules(StrictModel):
    """The post-call rating: after the agent hangs up, the caller rates the call 1–5."""

    enabled: bool = False
    include: SurveyScope = SurveyScope()
    exclude: SurveyScope = SurveyScope()
    prompts: SurveyPrompts = SurveyPrompts()
    timeout_s: int = Field(6, ge=2, le=30, description="how long to wait for a key after a prompt")
    followup: FollowUpRules = FollowUpRules()

    def surveys(self, line: str | None, skill: str | None) -> bool:
        """Whether a call on ``line`` (dialled number) with ``skill`` is surveyed."""
        if not self.enabled:
            return False
        if line in self.exclude.lines or skill in self.exclude.skills:
            return False
        if self.include.lines and line not in self.include.lines:
            return False
        return not (self.include.skills and skill not in self.include.skills)
