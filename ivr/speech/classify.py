"""Classify a caller's transcript: domain, request type, urgency, out-of-scope matter.

Two layers: the admins' keyword rules (:mod:`ivr.speech.rules`) and the n-gram model
(:mod:`ivr.speech.nb`). The combination, in order:

1. An empty transcript → the general queue (``source="empty"``).
2. An emergency keyword (not cancelled by an ``unless`` phrase) wins at once with
   ``thresholds.emergency_rule_confidence``; without one, the model alone may call an
   emergency when it reaches ``thresholds.emergency_model_confidence``.
3. Domain and request type: where keywords matched, their score distribution and the
   model's probabilities are blended (``rule_weight`` : ``1 - rule_weight``); otherwise
   the model decides alone. A domain below ``min_confidence`` (``model_min_confidence``
   when no keyword matched) → ``general``.
4. Out-of-scope: a keyword hit, else the model above ``out_of_scope_confidence``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from ivr.speech.rules import (
    GENERAL,
    ClassificationRules,
    EmergencyService,
    KeywordSet,
    OutOfScope,
    RequestType,
)
from ivr.speech.text import normalise

if TYPE_CHECKING:  # numpy stays out of `hotline route` and the rules' import path
    from ivr.speech.nb import NgramModel

K = TypeVar("K", bound=str)
_SMOOTHING = 1.0  # pseudo-score spread over all labels of a rule distribution


class Urgency(StrEnum):
    """Whether the call is for an emergency service."""

    NORMAL = "normal"
    EMERGENCY = "emergency"


class Source(StrEnum):
    """What decided the classification."""

    RULES = "rules"  # keyword rules alone (the model absent or not consulted)
    MODEL = "model"  # no keyword matched: the n-gram model alone
    BLEND = "blend"  # keywords and model together
    FALLBACK = "fallback"  # too unsure: general queue
    EMPTY = "empty"  # nothing to classify (silence, no transcript, no ASR)


@dataclass(frozen=True)
class Classification:
    """The routing-relevant reading of one utterance."""

    domain: str
    request_type: RequestType
    urgency: Urgency
    emergency_service: EmergencyService | None
    emergency_number: str | None
    out_of_scope: OutOfScope | None
    confidence: float  # of the emergency call when urgent, else of the domain
    source: Source
    request_type_confidence: float = 0.0
    transcript: str = ""

    @classmethod
    def fallback(cls, transcript: str = "", source: Source = Source.EMPTY) -> Classification:
        """The general queue, no urgency: what a call gets without a usable transcript."""
        return cls(GENERAL, RequestType.CONSULTATION, Urgency.NORMAL, None, None, None, 0.0,
                   source, 0.0, transcript)

    @property
    def is_emergency(self) -> bool:
        """True when the call should go to an emergency service."""
        return self.urgency is Urgency.EMERGENCY

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (enums as strings, confidences rounded)."""
        return {
            "domain": self.domain,
            "request_type": self.request_type.value,
            "urgency": self.urgency.value,
            "emergency_service": self.emergency_service.value if self.emergency_service else None,
            "emergency_number": self.emergency_number,
            "out_of_scope": self.out_of_scope.value if self.out_of_scope else None,
            "confidence": round(self.confidence, 3),
            "request_type_confidence": round(self.request_type_confidence, 3),
            "source": self.source.value,
            "transcript": self.transcript,
        }


def keyword_scores(text: str, sets: Mapping[K, KeywordSet]) -> dict[K, float]:
    """Score per class: weight × characters of its matched keywords (``text`` normalised).

    A hit contained in a longer hit of the same class counts once; an ``unless``
    phrase present in the text cancels the class.
    """
    scores: dict[K, float] = {}
    for label, keyword_set in sets.items():
        if any(phrase in text for phrase in keyword_set.unless):
            continue
        hits = [k for k in keyword_set.keywords if k in text]
        maximal = [k for k in hits if not any(k != o and k in o for o in hits)]
        if maximal:
            scores[label] = keyword_set.weight * sum(len(k) for k in maximal)
    return scores


def rule_distribution(scores: Mapping[str, float], labels: list[str]) -> dict[str, float]:
    """Scores as probabilities over ``labels``, smoothed so one short hit is not certainty."""
    total = sum(scores.values()) + _SMOOTHING
    share = _SMOOTHING / len(labels)
    return {label: (scores.get(label, 0.0) + share) / total for label in labels}


def blend(rule_scores: Mapping[str, float], model_probs: Mapping[str, float] | None,
          labels: list[str], rule_weight: float) -> tuple[str, float, Source]:
    """(best label, its probability, what decided) from keyword scores and model probabilities."""
    if model_probs is None and not rule_scores:
        return "", 0.0, Source.FALLBACK
    if not rule_scores:
        assert model_probs is not None
        best = max(model_probs, key=lambda k: model_probs[k])
        return best, model_probs[best], Source.MODEL
    rules = rule_distribution(rule_scores, labels)
    if model_probs is None:
        best = max(rules, key=lambda k: rules[k])
        return best, rules[best], Source.RULES
    mixed = {label: rule_weight * rules[label] + (1 - rule_weight) * model_probs.get(label, 0.0)
             for label in labels}
    best = max(mixed, key=lambda k: mixed[k])
    return best, mixed[best], Source.BLEND


def _emergency(text: str, rules: ClassificationRules,
               model: Mapping[str, float] | None) -> tuple[EmergencyService | None, float, Source]:
    hits = keyword_scores(text, rules.emergency)
    if hits:
        order = list(EmergencyService)
        service = max(hits, key=lambda s: (hits[s], -order.index(s)))
        return service, rules.thresholds.emergency_rule_confidence, Source.RULES
    if model:
        services = {k: v for k, v in model.items() if k != "none"}
        if services:
            best = max(services, key=lambda k: services[k])
            if services[best] >= rules.thresholds.emergency_model_confidence:
                return EmergencyService(best), services[best], Source.MODEL
    return None, 0.0, Source.FALLBACK


def _out_of_scope(text: str, rules: ClassificationRules,
                  model: Mapping[str, float] | None) -> OutOfScope | None:
    hits = keyword_scores(text, rules.out_of_scope)
    if hits:
        return max(hits, key=lambda k: hits[k])
    if model:
        matters = {k: v for k, v in model.items() if k != "none"}
        if matters:
            best = max(matters, key=lambda k: matters[k])
            if matters[best] >= rules.thresholds.out_of_scope_confidence:
                return OutOfScope(best)
    return None


def classify(text: str, rules: ClassificationRules, model: NgramModel | None = None) -> Classification:
    """Classify one transcript (pure: same inputs, same result)."""
    norm = normalise(text)
    if not norm:
        return Classification.fallback(text, Source.EMPTY)
    probs = model.predict(norm) if model is not None else {}
    thresholds = rules.thresholds

    service, urgent_conf, urgent_source = _emergency(norm, rules, probs.get("emergency"))

    domain_labels = sorted(set(rules.domains) | set(probs.get("domain", {})) | {GENERAL})
    domain, domain_conf, domain_source = blend(
        keyword_scores(norm, rules.domains), probs.get("domain"), domain_labels, thresholds.rule_weight)
    floor = thresholds.model_min_confidence if domain_source is Source.MODEL else thresholds.min_confidence
    if not domain or domain_conf < floor:
        domain, domain_source = GENERAL, Source.FALLBACK

    type_labels = [t.value for t in RequestType]
    type_scores = {k.value: v for k, v in keyword_scores(norm, rules.request_types).items()}
    request, request_conf, _ = blend(type_scores, probs.get("request_type"), type_labels,
                                      thresholds.rule_weight)
    request_type = RequestType(request) if request else RequestType.CONSULTATION
    if request_conf < thresholds.request_type_min_confidence:
        request_type = RequestType.CONSULTATION

    out_of_scope = _out_of_scope(norm, rules, probs.get("out_of_scope"))

    if service is not None:
        return Classification(domain, request_type, Urgency.EMERGENCY, service,
                              rules.emergency[service].number, out_of_scope, urgent_conf,
                              urgent_source, request_conf, text)
    return Classification(domain, request_type, Urgency.NORMAL, None, None, out_of_scope,
                          domain_conf, domain_source, request_conf, text)
