"""Schema of the ``callbacks:`` section of ``routing_rules.yaml`` (漏接电话回拨, ivr/callbacks).

Here rather than in the feature's folder: ``ivr/routing/rules.py`` (the core) holds the
whole document's schema and may not import a feature.
"""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from ivr.catalogue.model import Identifier
from ivr.config.validate import StrictModel

_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DIAL_TEMPLATE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.@:+*#/{}-]{1,128}")
NUMBER_FIELD = "{number}"


class Place(StrEnum):
    """Where a callback stands against callers waiting in the queue of its skill."""

    IN_LINE = "in_line"  # before queued callers who arrived after its request
    WHEN_IDLE = "when_idle"  # only when nobody waits in its skill's queue


class QuietHours(StrictModel):
    """No dialling between ``start`` and ``end`` (local time of the region); may span midnight."""

    start: str = "21:00"
    end: str = "08:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.fullmatch(value):
            raise ValueError("a time of day as HH:MM (00:00 to 23:59)")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal: no quiet hours, or all day? "
                             "remove quiet_hours for none")
        return self

    def bounds(self) -> tuple[time, time]:
        """``start`` and ``end`` as times of day."""
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


class CallbackRules(StrictModel):
    """Callbacks of missed and abandoned callers, dialled by the engine (docs/callbacks.md)."""

    enabled: bool = True  # false: requests are still stored, nothing is dialled
    # how the caller is dialled: one TECH/resource with {number} (digits only)
    dial: str = "PJSIP/{number}@trunk"
    min_abandon_wait_s: int = Field(10, ge=0, le=3600)  # abandoned sooner: no callback
    place: Place = Place.IN_LINE
    max_attempts: int = Field(3, ge=1, le=10)  # caller not reached (no answer, busy)
    retry_after_s: int = Field(600, ge=10, le=86400)  # between two attempts
    once_per_h: int = Field(24, ge=0, le=720)  # a number connected at most once per period; 0: no limit
    expire_after_h: int = Field(24, ge=1, le=720)  # pending longer than this: expired
    quiet_hours: QuietHours | None = QuietHours()  # null: dial at any hour
    agent_ring_s: int = Field(15, ge=5, le=120)  # the agent's phone rings first
    caller_ring_s: int = Field(30, ge=5, le=120)
    agent_cooldown_s: int = Field(60, ge=0, le=3600)  # an agent who missed a callback rests
    max_concurrent: int = Field(2, ge=1, le=100)  # callbacks dialling at once
    poll_s: float = Field(1.0, ge=0.1, le=60)  # how often the scheduler runs
    prompt: Identifier = "callback-intro"  # what the caller hears before the agent
    caller_id: str = Field("12345", pattern=r"^[0-9]{3,20}$")  # the number the caller sees

    @field_validator("dial")
    @classmethod
    def _dial_template(cls, value: str) -> str:
        if value.count(NUMBER_FIELD) != 1:
            raise ValueError("the dial string needs {number} once, e.g. PJSIP/{number}@carrier")
        if not _DIAL_TEMPLATE.fullmatch(value) or "{" in value.replace(NUMBER_FIELD, ""):
            raise ValueError("a dial string is one TECH/resource of letters, digits and "
                             "_.@:+*#/- with {number} where the caller's number goes")
        return value

    def dial_for(self, number: str) -> str:
        """The Dial() target of a caller's number (digits only, checked by the caller)."""
        return self.dial.replace(NUMBER_FIELD, number)
