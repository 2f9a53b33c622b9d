"""Schema of the ``classification:`` section: keywords per class, thresholds, Vosk grammar.

Admins edit these lists in ``routing_rules.yaml``; the default instance lives in
``tests/fixtures/speech/classification.yaml``. A keyword matches as a substring of
the normalised transcript (spaces between Han characters removed, Latin lower-cased);
a class's ``unless`` phrases cancel its keyword hits (an old fire is not an emergency).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from ivr.catalogue.model import Identifier, Number
from ivr.config.validate import StrictModel, validate_document
from ivr.config.yamlsrc import load_located
from ivr.speech.text import normalise

Phrase = Annotated[str, Field(min_length=1, max_length=40)]

GENERAL = "general"


class RequestType(StrEnum):
    """What the caller wants (the five 12345 request types)."""

    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议


class EmergencyService(StrEnum):
    """The emergency lines 12345 never absorbs."""

    POLICE = "police"  # 110
    FIRE = "fire"  # 119
    AMBULANCE = "ambulance"  # 120
    TRAFFIC = "traffic"  # 122


class OutOfScope(StrEnum):
    """Matters the plans exclude (Anhui plan 二（三）8 and the other four alike)."""

    LITIGATION = "litigation"  # 诉讼
    ARBITRATION = "arbitration"  # 仲裁
    PETITION = "petition"  # already in the 信访 channel
    DISCIPLINE = "discipline"  # 纪检监察
    RECONSIDERATION = "reconsideration"  # 行政复议
    INFO_DISCLOSURE = "info_disclosure"  # 政府信息公开


class KeywordSet(StrictModel):
    """Keywords of one class; each hit scores ``weight`` × its length in characters."""

    keywords: list[Phrase] = Field(min_length=1)
    unless: list[Phrase] = []
    weight: float = Field(1.0, gt=0, le=10)

    @field_validator("keywords", "unless")
    @classmethod
    def _normalised(cls, value: list[str]) -> list[str]:
        """Store phrases the way transcripts are normalised; reject duplicates."""
        out: list[str] = []
        for phrase in value:
            norm = normalise(phrase)
            if not norm:
                raise ValueError(f"phrase {phrase!r} has no letters")
            if norm in out:
                raise ValueError(f"duplicate phrase {phrase!r}")
            out.append(norm)
        return out


class EmergencyRule(KeywordSet):
    """Keywords of one emergency service and the number it is reached on."""

    number: Number


class Thresholds(StrictModel):
    """How sure the classifier must be before a class decides routing."""

    min_confidence: float = Field(0.1, ge=0, le=1)  # domain below this → general queue
    model_min_confidence: float = Field(0.45, ge=0, le=1)  # the same when no keyword matched
    request_type_min_confidence: float = Field(0.4, ge=0, le=1)  # below → consultation
    emergency_rule_confidence: float = Field(0.95, ge=0, le=1)  # what a keyword hit reports
    emergency_model_confidence: float = Field(0.85, ge=0, le=1)  # the model alone must reach it
    out_of_scope_confidence: float = Field(0.6, ge=0, le=1)
    rule_weight: float = Field(0.7, ge=0, le=1)  # share of keyword rules when any matched


class ClassificationRules(StrictModel):
    """The ``classification:`` section of ``routing_rules.yaml``."""

    thresholds: Thresholds = Thresholds()
    domains: dict[Identifier, KeywordSet] = Field(min_length=1)
    request_types: dict[RequestType, KeywordSet]
    emergency: dict[EmergencyService, EmergencyRule]
    out_of_scope: dict[OutOfScope, KeywordSet] = {}
    grammar: list[Phrase] = Field(
        default_factory=list,
        description="extra phrases for Vosk keyword spotting (space-separated model words)",
    )

    @model_validator(mode="after")
    def _complete(self) -> ClassificationRules:
        missing = [t.value for t in RequestType if t not in self.request_types]
        if missing:
            raise ValueError(f"request_types lacks {', '.join(missing)}")
        missing = [s.value for s in EmergencyService if s not in self.emergency]
        if missing:
            raise ValueError(f"emergency lacks {', '.join(missing)}")
        if GENERAL in self.domains:
            raise ValueError(f"'{GENERAL}' is the fallback domain and takes no keywords")
        return self

    def unknown_domains(self, known: Iterable[str]) -> list[str]:
        """Domains here that the catalogue does not know (for ``hotline check``)."""
        known_set = set(known)
        return sorted(d for d in self.domains if d not in known_set)

    def all_phrases(self) -> list[str]:
        """Every keyword and grammar phrase, deduplicated in order (a Vosk grammar source).

        Keywords are normalised (no spaces between Han characters); a Mandarin Vosk
        grammar wants the model's words separated by spaces, so list such phrases
        under ``grammar`` as the model segments them.
        """
        sets: list[KeywordSet] = [*self.domains.values(), *self.request_types.values(),
                                  *self.emergency.values(), *self.out_of_scope.values()]
        phrases = [p for s in sets for p in s.keywords] + list(self.grammar)
        return list(dict.fromkeys(phrases))


class ClassificationFile(StrictModel):
    """A file holding only the section (the shipped default instance)."""

    classification: ClassificationRules


def load_rules(path: str | Path) -> ClassificationRules:
    """Load a ``classification:`` file; raise ``ConfigError`` with ``file:line`` problems."""
    return validate_document(load_located(path), ClassificationFile).classification
