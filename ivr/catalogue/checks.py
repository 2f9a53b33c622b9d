"""Cross-record rules of the catalogue, reported with file, line and key."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from ivr.catalogue.model import EMERGENCY_NUMBERS, Catalogue, MergeMode, Region, RemarkKind
from ivr.config.errors import ConfigProblem
from ivr.config.yamlsrc import LocatedDocument

MAIN_NUMBER = "12345"


def check_catalogue(cat: Catalogue, doc: LocatedDocument) -> list[ConfigProblem]:
    """Every rule a single field cannot express; an empty list means the file is good."""
    problems: list[ConfigProblem] = []
    national = {line.number for line in cat.national}
    for i, line in enumerate(cat.national):
        if line.number in EMERGENCY_NUMBERS:
            problems.append(doc.problem(("national", i, "number"),
                                        f"emergency number {line.number} is never merged"))
    seen_national: set[str] = set()
    for i, line in enumerate(cat.national):
        if line.number in seen_national:
            problems.append(doc.problem(("national", i, "number"),
                                        f"duplicate number {line.number}"))
        seen_national.add(line.number)
    for key, region in cat.regions.items():
        problems.extend(_check_region(key, region, national, doc))
    return problems


def _check_region(
    key: str, region: Region, national: set[str], doc: LocatedDocument
) -> list[ConfigProblem]:
    base = ("regions", key)
    problems: list[ConfigProblem] = []
    numbers: dict[str, int] = {}
    for i, line in enumerate(region.lines):
        at = (*base, "lines", i)
        if line.number in numbers:
            problems.append(doc.problem((*at, "number"),
                                        f"duplicate number {line.number} in region {key} "
                                        f"(first at lines[{numbers[line.number]}])"))
        else:
            numbers[line.number] = i
        if line.number in EMERGENCY_NUMBERS:
            problems.append(doc.problem((*at, "number"),
                                        f"emergency number {line.number} cannot be merged"))
        if line.number == region.main_number:
            problems.append(doc.problem((*at, "number"), "the main number is not a legacy line"))
        if line.name is None and line.number not in national:
            problems.append(doc.problem((*at, "name"),
                                        f"{line.number} is not in the national baseline: give 'name'"))
        if line.domain is None and line.number not in national:
            problems.append(doc.problem((*at, "domain"),
                                        f"{line.number} is not in the national baseline: give 'domain'"))
        if line.transition is not None and line.cancelled_from is not None \
                and line.cancelled_from <= line.transition.end:
            problems.append(doc.problem((*at, "cancelled_from"),
                                        "cancelled_from must come after the transition window ends"))
    for i, line in enumerate(region.lines):
        remark = line.remark
        if remark is not None and remark.kind is RemarkKind.MERGED_INTO and remark.number \
                not in numbers and remark.number != region.main_number:
            problems.append(doc.problem((*base, "lines", i, "remark", "number"),
                                        f"merged into {remark.number}, which region {key} does not list"))
    for name in ("national_whole_merge", "local_whole_merge"):
        phase = getattr(region.schedule, name)
        where: tuple[str, ...] = (*base, "schedule", name)
        if phase.transition.end < phase.transition.start:
            problems.append(doc.problem((*where, "transition"), "window ends before it starts"))
        if phase.cancelled_from <= phase.transition.end:
            problems.append(doc.problem((*where, "cancelled_from"),
                                        "cancelled_from overlaps the transition window"))
    for j, pattern in enumerate(region.patterns):
        for emergency in sorted(EMERGENCY_NUMBERS | {region.main_number}):
            if pattern.matches(emergency):
                problems.append(doc.problem((*base, "patterns", j, "regex"),
                                            f"pattern matches {emergency}, which is never merged"))
        for k, excluded in enumerate(pattern.excludes):
            if not re.fullmatch(pattern.regex, excluded):
                problems.append(doc.problem((*base, "patterns", j, "excludes", k),
                                            f"{excluded} is not matched by the regex anyway"))
    counted = Counter(line.mode for line in region.lines)
    counted.update(p.mode for p in region.patterns if p.counted)
    for mode in MergeMode:
        stated = getattr(region.counts, mode.value)
        if counted[mode] != stated:
            problems.append(doc.problem((*base, "counts", mode.value),
                                        f"the plan states {stated} {mode.value} lines, "
                                        f"the list has {counted[mode]}"))
    return problems


def pattern_overlaps(region: Region, reserved: Mapping[str, str]) -> list[tuple[int, str, str]]:
    """``(pattern index, number, what it is)`` for every reserved number a pattern matches.

    ``reserved`` maps the numbers routing_rules.yaml uses (endpoints, emergency targets,
    utility partners) to a description; a pattern must swallow none of them.
    """
    return [(j, number, what)
            for j, pattern in enumerate(region.patterns)
            for number, what in sorted(reserved.items())
            if pattern.matches(number)]
