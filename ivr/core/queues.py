"""The queue contract between routing and the ACD: one Asterisk queue per skill.

Every skill has one Asterisk queue, ``hl-<skill>``. A member's penalty encodes
how well it fits (lower rings first); a waiting call starts with
``QUEUE_MAX_PENALTY`` = :data:`INITIAL_MAX_PENALTY` and its queue rule widens it
after the configured wait (``acd.widen`` in routing_rules.yaml).  The routing
decision names the queue, rule and penalty; the ACD (``agent_pool``) creates the
queues and their members from the same names.
"""

from __future__ import annotations

from ivr.catalogue.model import Catalogue
from ivr.routing.rules import Acd

GENERAL = "general"
EXPERT_PREFIX = "expert_"
QUEUE_PREFIX = "hl-"
BAND = 10
INITIAL_MAX_PENALTY = BAND - 1
RULE_SKILL = "hl-widen-skill"
RULE_EXPERT = "hl-widen-expert"


def queue_name(skill: str) -> str:
    """The Asterisk queue of a skill."""
    return f"{QUEUE_PREFIX}{skill}"


def queue_rule(skill: str, acd: Acd) -> str:
    """The queue rule a call for ``skill`` enters with ('' for none)."""
    if skill == GENERAL:
        return ""
    if skill.startswith(EXPERT_PREFIX):
        return RULE_EXPERT
    return RULE_SKILL if acd.widen.skill_after_s else ""


def initial_max_penalty(skill: str, acd: Acd) -> int:
    """The penalty band a call for ``skill`` may reach at once.

    With ``widen.skill_after_s: 0`` general agents take a skill call at once when no
    skilled agent is free (skilled agents still ring first when they are).
    """
    if skill != GENERAL and not skill.startswith(EXPERT_PREFIX) \
            and acd.widen.skill_after_s == 0:
        return 2 * BAND - 1
    return INITIAL_MAX_PENALTY


def expert_domains(catalogue: Catalogue) -> dict[str, str]:
    """``expert_<number>`` -> the domain of that line, for every line with an expert seat."""
    baseline = {line.number: line.domain for line in catalogue.national}
    out: dict[str, str] = {}
    for region in catalogue.regions.values():
        for line in region.lines:
            if line.expert_seat:
                out[f"{EXPERT_PREFIX}{line.number}"] = line.domain or baseline.get(line.number, GENERAL)
    return out
