"""Loading the whole engine configuration: catalogue + routing rules, cross-checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ivr.catalogue.checks import check_catalogue, pattern_overlaps
from ivr.catalogue.model import EMERGENCY_NUMBERS, Catalogue, Line, PhaseSchedule, Schedule
from ivr.config.errors import ConfigError, ConfigProblem
from ivr.config.roster import Roster
from ivr.config.validate import validate_document
from ivr.config.yamlsrc import LocatedDocument, load_located
from ivr.routing.rules import EndpointKind, RoutingRules

CATALOGUE_FILE = "merger_catalogue.yaml"
RULES_FILE = "routing_rules.yaml"
ROSTER_FILE = "agents.yaml"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class EngineConfig:
    """A validated, internally consistent configuration the router can trust."""

    directory: Path
    catalogue: Catalogue
    rules: RoutingRules
    roster: Roster

    @property
    def region(self) -> str:
        """The region this deployment runs."""
        return self.rules.deployment.region


def load_engine_config(directory: str | Path) -> EngineConfig:
    """Load and cross-check ``merger_catalogue.yaml``, ``routing_rules.yaml`` and ``agents.yaml``.

    Raises :class:`ConfigError` listing every problem found in any of the files.
    """
    root = Path(directory)
    problems: list[ConfigProblem] = []
    cat_doc, catalogue = _load(root / CATALOGUE_FILE, Catalogue, problems)
    if catalogue is not None and cat_doc is not None:
        problems.extend(check_catalogue(catalogue, cat_doc))
    rules_doc, rules = _load(root / RULES_FILE, RoutingRules, problems)
    roster_doc, roster = _load(root / ROSTER_FILE, Roster, problems)
    if catalogue is not None and rules is not None and cat_doc and rules_doc:
        catalogue, more = _apply_overrides(catalogue, rules, rules_doc)
        problems.extend(more)
        problems.extend(_cross_check(catalogue, rules, cat_doc, rules_doc))
        if roster is not None and roster_doc is not None:
            problems.extend(check_roster(roster, roster_doc, catalogue))
    if problems or catalogue is None or rules is None or roster is None:
        raise ConfigError(problems)
    return EngineConfig(root, catalogue, rules, roster)


def _load(path: Path, model: type[M], problems: list[ConfigProblem]
          ) -> tuple[LocatedDocument | None, M | None]:
    """One file through the located loader and its schema; problems are collected, not raised.

    Whatever goes wrong becomes a located problem: the loader reports unreadable files,
    bad encodings, syntax and alias bombs itself; anything else (a bug, memory) is named
    ``file:1`` rather than escaping as another exception type.
    """
    try:
        doc = load_located(path)
        return doc, validate_document(doc, model)
    except ConfigError as exc:
        problems.extend(exc.problems)
    except OSError as exc:
        problems.append(ConfigProblem(str(path), 1, "(file)", f"cannot read the file: {exc}"))
    except RecursionError:
        problems.append(ConfigProblem(str(path), 1, "(nesting)", "nested too deeply"))
    except Exception as exc:  # noqa: BLE001 - a reload must never take the controller down
        problems.append(ConfigProblem(str(path), 1, "(file)",
                                      f"could not be loaded: {type(exc).__name__}: {exc}"))
    return None, None


def check_roster(roster: Roster, doc: LocatedDocument, catalogue: Catalogue) -> list[ConfigProblem]:
    """Unique ids and phones; skills that name a catalogue domain, an expert seat or a language."""
    from ivr.core.queues import EXPERT_PREFIX, GENERAL, expert_domains

    problems: list[ConfigProblem] = []
    domains = {GENERAL} | {line.domain for line in catalogue.national}
    for region in catalogue.regions.values():
        domains.update(line.domain for line in region.lines if line.domain)
    experts = expert_domains(catalogue)
    seen_ids: set[str] = set()
    seen_phones: set[str] = set()
    for i, agent in enumerate(roster.agents):
        if agent.id in seen_ids:
            problems.append(doc.problem(("agents", i, "id"), f"duplicate agent id {agent.id}"))
        if agent.interface.lower() in seen_phones:
            problems.append(doc.problem(("agents", i, "interface"),
                                        f"{agent.interface} is already another agent's phone"))
        seen_ids.add(agent.id)
        seen_phones.add(agent.interface.lower())
        for skill in agent.skills:
            known = skill in domains or skill in experts or skill.startswith("lang_")
            if not known:
                hint = ("no line in the catalogue has that expert seat"
                        if skill.startswith(EXPERT_PREFIX) else
                        "not a catalogue domain, an expert_<number> seat or a lang_ skill")
                problems.append(doc.problem(("agents", i, "skills", skill),
                                            f"unknown skill {skill!r}: {hint}"))
    return problems


def _apply_overrides(
    catalogue: Catalogue, rules: RoutingRules, rules_doc: LocatedDocument
) -> tuple[Catalogue, list[ConfigProblem]]:
    region_key = rules.deployment.region
    region = catalogue.regions.get(region_key)
    problems: list[ConfigProblem] = []
    if region is None:
        problems.append(rules_doc.problem(("deployment", "region"),
                                          f"unknown region {region_key!r}; the catalogue has "
                                          f"{', '.join(sorted(catalogue.regions))}"))
        return catalogue, problems
    if rules.deployment.schedule is not None:
        schedule = rules.deployment.schedule.apply(region.schedule)
        problems.extend(_schedule_order(schedule, rules_doc))
        region = region.model_copy(update={"schedule": schedule})
    lines = list(region.lines)
    index = {line.number: i for i, line in enumerate(lines)}
    for number, override in rules.deployment.line_overrides.items():
        at = ("deployment", "line_overrides", number)
        base = lines[index[number]].model_dump(exclude_unset=True) if number in index else {}
        try:
            merged = Line.model_validate({**base, **override})
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                path = (*at, *[p for p in err["loc"] if isinstance(p, str | int)])
                problems.append(rules_doc.problem(path, err["msg"].removeprefix("Value error, ")))
            continue
        if number in index:
            lines[index[number]] = merged
        else:
            lines.append(merged)
    new_region = region.model_copy(update={"lines": lines})
    regions = {**catalogue.regions, region_key: new_region}
    return catalogue.model_copy(update={"regions": regions}), problems


def _schedule_order(schedule: Schedule, rules_doc: LocatedDocument) -> list[ConfigProblem]:
    """A deployment's own whole-merge dates must be in order, like the plan's."""
    problems: list[ConfigProblem] = []
    for name in ("national_whole_merge", "local_whole_merge"):
        phase: PhaseSchedule = getattr(schedule, name)
        at = ("deployment", "schedule", name)
        if phase.transition.end < phase.transition.start:
            problems.append(rules_doc.problem((*at, "transition"), "window ends before it starts"))
        if phase.cancelled_from <= phase.transition.end:
            problems.append(rules_doc.problem((*at, "cancelled_from"),
                                              "cancelled_from overlaps the transition window"))
    return problems


_DIALLED = re.compile(r"^[A-Za-z]+/(?:[^/@]*/)?([0-9]{3,12})(?:@|$)")


def _reserved_numbers(rules: RoutingRules, rules_doc: LocatedDocument) -> dict[str, str]:
    """Numbers routing_rules.yaml dials (endpoints, emergency targets, utility partners)."""
    reserved: dict[str, str] = {}
    for name, endpoint in rules.endpoints.items():
        line = rules_doc.line_of(("endpoints", name))
        for dial in (endpoint.dial, endpoint.backup_dial):
            found = _DIALLED.match(dial or "")
            if found:
                reserved.setdefault(found.group(1), f"{endpoint.kind.value} endpoint {name} "
                                                    f"({RULES_FILE}:{line})")
    for number, target in rules.emergency.items():
        line = rules_doc.line_of(("emergency", number))
        reserved.setdefault(number, f"emergency target {number} ({RULES_FILE}:{line})")
        for dial in (target.dial, target.backup_dial):
            found = _DIALLED.match(dial or "")
            if found:
                reserved.setdefault(found.group(1),
                                    f"emergency target {number} ({RULES_FILE}:{line})")
    return reserved


def _check_legacy(catalogue: Catalogue, rules: RoutingRules,
                  rules_doc: LocatedDocument) -> list[ConfigProblem]:
    """Legacy endpoints exist, are of kind legacy, and name lines or departments of the region."""
    problems: list[ConfigProblem] = []
    region = catalogue.regions.get(rules.deployment.region)
    legacy = rules.deployment.legacy
    numbers = {line.number for line in region.lines} if region else set()
    departments = {line.department for line in region.lines if line.department} if region else set()
    keyed = [("lines", key, name, key in numbers) for key, name in legacy.lines.items()]
    keyed += [("departments", key, name, key in departments)
              for key, name in legacy.departments.items()]
    for group, key, name, known in keyed:
        at = ("deployment", "legacy", group, key)
        if region is not None and not known:
            what = "line" if group == "lines" else "department"
            problems.append(rules_doc.problem(at, f"region {rules.deployment.region} has no "
                                                  f"{what} {key!r}"))
        endpoint = rules.endpoints.get(name)
        if endpoint is None:
            problems.append(rules_doc.problem(at, f"endpoint {name!r} is not defined under "
                                                  f"'endpoints'"))
        elif endpoint.kind is not EndpointKind.LEGACY:
            problems.append(rules_doc.problem(at, f"endpoint {name!r} is of kind "
                                                  f"{endpoint.kind.value}, not legacy"))
    return problems


def _cross_check(
    catalogue: Catalogue, rules: RoutingRules, cat_doc: LocatedDocument, rules_doc: LocatedDocument
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    reserved = _reserved_numbers(rules, rules_doc)
    for key, region in catalogue.regions.items():
        for j, number, what in pattern_overlaps(region, reserved):
            problems.append(cat_doc.problem(
                ("regions", key, "patterns", j, "regex"),
                f"pattern matches {number}, the {what}: narrow the regex or add it to "
                f"'excludes'"))
    problems.extend(_check_legacy(catalogue, rules, rules_doc))
    for key, region in catalogue.regions.items():
        for i, line in enumerate(region.lines):
            at = ("regions", key, "lines", i)
            refs: list[tuple[tuple[str | int, ...], str]] = []
            if line.subcenter is not None:
                refs.append(((*at, "subcenter", "endpoint"), line.subcenter.endpoint))
            if line.kept_seats_endpoint is not None:
                refs.append(((*at, "kept_seats_endpoint"), line.kept_seats_endpoint))
            if line.before_merge_endpoint is not None:
                refs.append(((*at, "before_merge_endpoint"), line.before_merge_endpoint))
            for path, name in refs:
                if name not in rules.endpoints:
                    problems.append(cat_doc.problem(
                        path, f"endpoint {name!r} is not defined under 'endpoints' in {RULES_FILE}"))
    if rules.classification is not None:
        known = {"general"} | {line.domain for line in catalogue.national}
        for region in catalogue.regions.values():
            known.update(line.domain for line in region.lines if line.domain)
        for domain in rules.classification.unknown_domains(known):
            problems.append(rules_doc.problem(("classification", "domains", domain),
                                              f"{domain!r} is not a domain of the catalogue"))
    for number in rules.emergency:
        if number not in EMERGENCY_NUMBERS:
            problems.append(rules_doc.problem(("emergency", number),
                                              f"{number} is not an emergency number"))
    return problems
