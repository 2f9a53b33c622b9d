"""Schema of ``routing_rules.yaml``: where calls go once the catalogue has said what they are."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from ivr.catalogue.model import Identifier, Number, ScheduleOverride
from ivr.config.callbacks import CallbackRules
from ivr.config.validate import StrictModel
from ivr.metrics.settings import MetricsRules
from ivr.mqtt.settings import MqttRules
from ivr.quality.settings import RecordingRules
from ivr.ratings.settings import SurveyRules
from ivr.speech.rules import ClassificationRules
from ivr.speech.settings import ListeningRules
from ivr.web.settings import WebRules

_DIAL_TARGET = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.@:+*#/-]{1,128}")


def _dial_target(value: str) -> str:
    """One channel ``TECH/resource``: no ``,`` (Dial options), ``&`` (more channels),
    ``$``/``{}`` (dialplan expressions), quotes or spaces can come in from the config."""
    if not _DIAL_TARGET.fullmatch(value):
        raise ValueError("a dial string is one TECH/resource of letters, digits and _.@:+*#/- "
                         "(',' would add Dial options, '&' more channels, '${' expressions)")
    return value


DialString = Annotated[str, AfterValidator(_dial_target),
                       Field(description="an Asterisk Dial() target")]


class CancelledPolicy(StrEnum):
    """What a caller of a cancelled whole-merge number gets."""

    ANNOUNCE_AND_CONNECT = "announce_and_connect"  # not-in-service prompt, then 12345
    ANNOUNCE_ONLY = "announce_only"  # not-in-service prompt, then hang up


class LegacyEndpoints(StrictModel):
    """The old lines' own seats, reached before a line's start date (kind ``legacy``)."""

    lines: dict[Number, Identifier] = {}  # by number
    departments: dict[str, Identifier] = {}  # by 责任单位, as the catalogue writes it


class Deployment(StrictModel):
    """Which regional plan this centre runs, and its local departures from it."""

    region: Identifier
    line_overrides: dict[Number, dict[str, Any]] = {}
    # The region's dates as this centre confirms or changes them (clears 'assumed').
    schedule: ScheduleOverride | None = None
    legacy: LegacyEndpoints = LegacyEndpoints()

    def legacy_endpoint(self, number: str, department: str | None) -> str | None:
        """The legacy endpoint configured for a line, by number first, then by department."""
        if number in self.legacy.lines:
            return self.legacy.lines[number]
        return self.legacy.departments.get(department) if department else None


class Timing(StrictModel):
    """Ring and wait limits, in seconds."""

    answer_target_s: int = Field(15, ge=1, le=60)  # GB/T 33358-2016: answer within 15 s
    agent_ring_s: int = Field(20, ge=5, le=120)
    subcenter_answer_s: int = Field(20, ge=5, le=120)
    kept_seats_answer_s: int = Field(15, ge=5, le=120)
    emergency_answer_s: int = Field(20, ge=5, le=120)
    decision_budget_ms: int = Field(2000, ge=100, le=10000)


class EndpointKind(StrEnum):
    """What a named destination is; decides how transfers to it behave."""

    SUBCENTER = "subcenter"  # a vertically managed line's sub-center (12366, 12360, …)
    KEPT_SEATS = "kept_seats"  # seats a dual-number line kept
    UTILITY = "utility"  # water, power, gas, heating companies
    DEPARTMENT = "department"  # any other department's desk
    LEGACY = "legacy"  # an old line's own handling before it merges


class OnFailure(StrEnum):
    """What a transfer does when its target does not answer, is busy or fails."""

    WORKORDER = "workorder"  # caller back to the agent, a work order for the department
    RETURN = "return"  # caller back to the agent, nothing else


class Endpoint(StrictModel):
    """A named place calls are sent to (a sub-center, a line's kept seats, a utility, …)."""

    dial: DialString
    description: str | None = None
    kind: EndpointKind = EndpointKind.DEPARTMENT
    backup_dial: DialString | None = None  # tried when ``dial`` fails (busy, down, no answer)
    answer_s: int | None = Field(None, ge=5, le=120)  # ring time; default timing.subcenter_answer_s
    on_failure: OnFailure = OnFailure.WORKORDER
    transferable: bool = True  # may agents transfer callers here (三方转接)?


class Transfers(StrictModel):
    """Three-way, blind and one-key emergency transfers started by 12345 agents."""

    hold_prompt: Identifier = "hold"  # what the caller hears while the target rings
    agent_wait_margin_s: int = Field(5, ge=1, le=60)  # the agent rejoins by itself after this
    default_summary: str = "12345转办：来电人咨询事项需由贵单位答复，转接未接通，请回复来电人。"


class EmergencyTarget(StrictModel):
    """How the one-key emergency transfer reaches one emergency service."""

    dial: DialString
    backup_dial: DialString | None = None


class Prompts(StrictModel):
    """Which prompt ids the main flows play."""

    greeting: Identifier = "greeting"
    not_in_service: Identifier = "not-in-service"
    transfer: Identifier = "transfer-connecting"
    diverted_emergency: Identifier = "diverted-emergency"


class Widening(StrictModel):
    """When a waiting call may go to less specialised agents."""

    skill_after_s: int = Field(0, ge=0, le=3600)  # 0: general agents at once if needed
    expert_after_s: int = Field(20, ge=0, le=3600)  # expert seat -> skill and general agents


class QueueAnnouncements(StrictModel):
    """What a waiting caller hears (no menus, GB/T 33358-2016)."""

    position: bool = False  # Asterisk's stock position sounds are English
    hold_time: bool = False
    frequency_s: int = Field(30, ge=0, le=600)
    comfort_prompt: Identifier | None = "queue-comfort"
    comfort_every_s: int = Field(30, ge=0, le=600)
    music_class: str = "default"


class Acd(StrictModel):
    """Automatic call distribution: the rules app_queue is configured from."""

    ring_timeout_s: int = Field(15, ge=5, le=120)
    retry_s: int = Field(1, ge=0, le=60)
    wrapup_s: int = Field(10, ge=0, le=600)
    max_wait_s: int = Field(120, ge=10, le=3600)
    autopause_on_no_answer: bool = True
    widen: Widening = Widening()
    announce: QueueAnnouncements = QueueAnnouncements()
    priority_diverted_emergency: int = Field(5, ge=0, le=100)
    priority_repeat_caller: int = Field(3, ge=0, le=100)
    repeat_window_min: int = Field(30, ge=1, le=1440)
    pause_reasons: dict[str, str] = Field(
        default_factory=lambda: {"1": "break", "2": "meal", "3": "training", "4": "callback"})


class Records(StrictModel):
    """The call store: how long call records are kept."""

    retention_days: int = Field(
        400, ge=1, le=36_500,
        description="call records older than this are deleted (hourly); a year and a margin "
                    "by default, for annual reports")


class RoutingRules(StrictModel):
    """The whole ``routing_rules.yaml``."""

    version: int = Field(ge=1, le=1)
    deployment: Deployment
    timing: Timing = Timing()
    cancelled_policy: CancelledPolicy = CancelledPolicy.ANNOUNCE_AND_CONNECT
    fallback: Endpoint
    prompts: Prompts = Prompts()
    skills: dict[Identifier, str] = Field(
        default_factory=dict, description="domain -> display name of the skill"
    )
    endpoints: dict[Identifier, Endpoint] = {}
    emergency: dict[Number, EmergencyTarget] = {}
    transfers: Transfers = Transfers()
    acd: Acd = Acd()
    classification: ClassificationRules | None = None  # speech pre-classification keywords
    listening: ListeningRules = ListeningRules()  # live pre-classification over AudioSocket
    records: Records = Records()
    mqtt: MqttRules = MqttRules()  # events and work orders over MQTT (docs/events.md)
    metrics: MetricsRules = MetricsRules()  # Prometheus /metrics (docs/operations.md)
    web: WebRules = WebRules()  # wallboard and agent desk (docs/operations.md)
    recording: RecordingRules = RecordingRules()  # call recording, retention (docs/quality.md)
    survey: SurveyRules = SurveyRules()  # post-call rating and follow-ups (docs/ratings.md)
    callbacks: CallbackRules = CallbackRules()  # missed and abandoned callers (docs/callbacks.md)
