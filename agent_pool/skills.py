"""Skills, queues and penalties: how the roster and the rules become app_queue members.

Every skill has one Asterisk queue, ``hl-<skill>``. A member's penalty encodes
how well it fits: lower rings first, and within one penalty the agent idle the
longest rings first (``strategy = leastrecent``). Penalty bands:

* 0-9:   the required skill (expert seat, or the line's domain), 10 - level
* 10-19: for expert queues, the line's domain skill; for skill queues, general agents
* 20-29: for expert queues, general agents

A waiting call starts with ``QUEUE_MAX_PENALTY=9`` and its queue rule widens it
after the configured wait (``acd.widen`` in routing_rules.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.catalogue.model import Catalogue
from ivr.config.roster import Agent, Roster
from ivr.core.queues import (
    BAND,
    EXPERT_PREFIX,
    GENERAL,
    RULE_EXPERT,
    RULE_SKILL,
    expert_domains,
    queue_name,
)
from ivr.routing.rules import Acd

__all__ = ["Membership", "all_skills", "memberships", "widen_rules"]

def all_skills(catalogue: Catalogue, roster: Roster) -> list[str]:
    """Every skill a call or an agent can have: general, each domain, each expert seat."""
    skills = {GENERAL}
    skills.update(line.domain for line in catalogue.national)
    for region in catalogue.regions.values():
        skills.update(line.domain for line in region.lines if line.domain)
        skills.update(p.domain for p in region.patterns)
    skills.update(expert_domains(catalogue))
    for agent in roster.agents:
        skills.update(agent.skills)
    return sorted(skills)


@dataclass(frozen=True)
class Membership:
    """One queue an agent joins on login, with its penalty."""

    queue: str
    penalty: int


def _fit(level: int, band: int) -> int:
    return band * BAND + (BAND - level)


def memberships(agent: Agent, skills: list[str], experts: dict[str, str]) -> list[Membership]:
    """The queues ``agent`` serves and how well, per the penalty bands above."""
    out: list[Membership] = []
    general = agent.skills.get(GENERAL)
    for skill in skills:
        level = agent.skills.get(skill)
        if skill.startswith(EXPERT_PREFIX):
            domain_level = agent.skills.get(experts.get(skill, ""))
            if level is not None:
                out.append(Membership(queue_name(skill), _fit(level, 0)))
            elif domain_level is not None:
                out.append(Membership(queue_name(skill), _fit(domain_level, 1)))
            elif general is not None:
                out.append(Membership(queue_name(skill), _fit(general, 2)))
        elif level is not None:
            out.append(Membership(queue_name(skill), _fit(level, 0)))
        elif general is not None:
            out.append(Membership(queue_name(skill), _fit(general, 1)))
    return out


def widen_rules(acd: Acd) -> dict[str, list[tuple[int, int]]]:
    """Queue rules: name -> [(seconds into the wait, new QUEUE_MAX_PENALTY)]."""
    rules: dict[str, list[tuple[int, int]]] = {
        RULE_EXPERT: [(acd.widen.expert_after_s, 3 * BAND - 1)],
        RULE_SKILL: [],
    }
    if acd.widen.skill_after_s:
        rules[RULE_SKILL].append((acd.widen.skill_after_s, 2 * BAND - 1))
    return rules
