"""Schema of ``recordings/prompts.yaml``: the texts of the voice prompts.

Every fixed prompt is a named key (a typo is an ``unknown key`` error with file and
line), templates may use only their documented fields, and texts that read like an
IVR menu are rejected: GB/T 33358-2016 forbids interactive voice menus on 12345.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from ivr.config.validate import StrictModel, validate_document
from ivr.config.yamlsrc import load_located
from ivr.prompts.spoken import SYLLABLE

_MENU = re.compile(r"请?按\s*(?:[0-9#*＃＊]|[零一二三四五六七八九幺]号?键)|按键|请选择")
_HAN_ONLY = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
MAX_TEXT = 200
MAX_GREETING = 40


def _speakable(value: str) -> str:
    if not value:
        raise ValueError("text is empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters")
    if _MENU.search(value):
        raise ValueError(
            "reads like an IVR menu ('请按…'); GB/T 33358-2016 forbids voice menus on 12345"
        )
    return value


def _fixed_text(value: str) -> str:
    _speakable(value)
    if "{" in value or "}" in value:
        raise ValueError("a fixed prompt has no {fields}; templates live under 'templates'")
    return value


def _greeting(value: str) -> str:
    if len(value) > MAX_GREETING:
        raise ValueError(
            f"keep the greeting under {MAX_GREETING} characters: callers must reach an agent "
            "quickly (GB/T 33358-2016: answer within 15 s)"
        )
    return value


def _survey_text(value: str) -> str:
    """The post-call rating (ivr/ratings) names its keys: it comes after the service, the
    caller may simply hang up, so it is no menu before service (GB/T 33358-2016)."""
    if not value:
        raise ValueError("text is empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters")
    if "{" in value or "}" in value:
        raise ValueError("a fixed prompt has no {fields}; templates live under 'templates'")
    return value


Text = Annotated[str, AfterValidator(_fixed_text)]
SurveyText = Annotated[str, AfterValidator(_survey_text)]
Greeting = Annotated[str, AfterValidator(_fixed_text), AfterValidator(_greeting)]


def template_fields(template: str) -> set[str]:
    """The ``{field}`` names a template uses; raise ``ValueError`` on malformed ones."""
    names: set[str] = set()
    for _literal, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"write fields as plain {{name}} (got {{{field}}})")
        names.add(field)
    return names


class Templates(StrictModel):
    """Texts with ``{fields}``, rendered per hotline line."""

    TRANSITION_FIELDS: ClassVar[frozenset[str]] = frozenset({"name", "number", "main"})
    MERGED_INTO_FIELDS: ClassVar[frozenset[str]] = TRANSITION_FIELDS | {"target", "target_name"}

    transition: str = Field(
        description="a whole-merge line during its transition: fields name, number, main"
    )
    merged_into: str = Field(
        description="a line merged into another line (e.g. 12315): adds target, target_name"
    )
    unnamed_line: str = Field(
        default="号码", description="{name} for a line with no name in the catalogue"
    )

    @field_validator("transition", "merged_into")
    @classmethod
    def _fields(cls, value: str, info: ValidationInfo) -> str:
        _speakable(value)
        transition = info.field_name == "transition"
        allowed = cls.TRANSITION_FIELDS if transition else cls.MERGED_INTO_FIELDS
        used = template_fields(value)
        unknown = sorted(used - allowed)
        if unknown:
            raise ValueError(
                f"unknown field {{{unknown[0]}}}; allowed: "
                + ", ".join(f"{{{f}}}" for f in sorted(allowed))
            )
        if "number" not in used:
            raise ValueError("the template must say the dialled {number}")
        return value


class VoiceSettings(StrictModel):
    """Placeholder-voice settings (espeak-ng + sox); changing one regenerates every prompt."""

    speed: int = Field(default=175, ge=80, le=400, description="espeak-ng words per minute")
    pitch: int = Field(default=50, ge=0, le=99)
    gain_db: float = Field(default=-3.0, ge=-30.0, le=0.0, description="peak level, dBFS")
    lead_ms: int = Field(default=100, ge=0, le=2000)
    tail_ms: int = Field(default=0, ge=0, le=2000)


class FixedPrompts(StrictModel):
    """The fixed prompts; each key is also the prompt id and file name."""

    greeting: Greeting
    not_in_service: Text = Field(alias="not-in-service")
    hold: Text
    listen: Text = "您好，12345热线，请简要说出您要办理的事项。"  # the greeting when listening
    transfer_connecting: Text = Field(alias="transfer-connecting")
    queue_comfort: Text = Field(alias="queue-comfort")
    no_agents_callback: Text = Field(alias="no-agents-callback")
    fallback: Text
    diverted_emergency: Text = Field(alias="diverted-emergency")
    transition_generic: Text = Field(alias="transition-generic")
    # post-call rating (ivr/ratings): after the conversation, keys 1-5 named
    rating_ask: SurveyText = Field(
        "请您对本次服务作出评价。非常满意请按1，满意请按2，基本满意请按3，不满意请按4，非常不满意请按5。",
        alias="rating-ask")
    rating_retry: SurveyText = Field(
        "没有收到您的评价。非常满意请按1，满意请按2，基本满意请按3，不满意请按4，非常不满意请按5。",
        alias="rating-retry")
    rating_thanks: Text = Field("感谢您的评价，再见。", alias="rating-thanks")
    # callbacks of missed and abandoned callers (ivr/callbacks): the caller hears it on answer
    callback_intro: Text = Field("您好，这里是12345政务服务便民热线，给您回电。",
                                 alias="callback-intro")
    # "this call may be recorded" (ivr/quality), right after the answer, in the regions of
    # routing_rules.yaml recording.disclosure.regions
    recording_notice: Text = Field("为了提高服务质量，您的通话可能会被录音。",
                                   alias="recording-notice")

    def by_id(self) -> dict[str, str]:
        """Prompt id → text, in file order."""
        return {
            (info.alias or name): getattr(self, name)
            for name, info in type(self).model_fields.items()
        }


def _pronunciations(value: dict[str, str]) -> dict[str, str]:
    for phrase, reading in value.items():
        if not _HAN_ONLY.fullmatch(phrase):
            raise ValueError(f"{phrase!r}: only Chinese characters can be given a reading")
        syllables = reading.split()
        bad = [s for s in syllables if not SYLLABLE.fullmatch(s)]
        if bad:
            raise ValueError(
                f"{phrase!r}: {bad[0]!r} is not tone-numbered pinyin like 'zhong1' ('ü' as 'v')"
            )
        if len(syllables) != len(phrase):
            raise ValueError(
                f"{phrase!r} has {len(phrase)} characters but {len(syllables)} syllables"
            )
    return value


class PromptsFile(StrictModel):
    """The whole ``recordings/prompts.yaml``."""

    version: int = Field(ge=1, le=1)
    voice: VoiceSettings = VoiceSettings()
    prompts: FixedPrompts
    templates: Templates
    pronunciations: Annotated[dict[str, str], AfterValidator(_pronunciations)] = Field(
        default_factory=dict, description="phrase → tone-numbered pinyin, fixes pypinyin"
    )


def load_prompts(path: str | Path) -> PromptsFile:
    """Load and validate a prompts file; raise ``ConfigError`` with ``file:line: key``."""
    return validate_document(load_located(path), PromptsFile)
