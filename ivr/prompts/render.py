"""Prompt texts: the fixed prompts and one transition prompt per merged hotline line.

For every region of the merger catalogue, each ``whole_merge`` line and each line whose
remark says ``merged_into`` gets ``<region>/transition-<number>``. The line's
``prompt_text`` wins; otherwise the template is filled with the line's name (else the
national baseline's name for that number) and its number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ivr.catalogue.model import Catalogue, Line, MergeMode, Region, RemarkKind
from ivr.config.validate import validate_document
from ivr.config.yamlsrc import load_located
from ivr.prompts.library import transition_prompt_id
from ivr.prompts.schema import PromptsFile, Templates


@dataclass(frozen=True)
class PromptSpec:
    """One prompt to produce: its id, its text, and where the text came from."""

    id: str
    text: str
    source: str


def load_catalogue(path: str | Path) -> Catalogue:
    """Load ``merger_catalogue.yaml`` against its schema (``ConfigError`` on problems)."""
    return validate_document(load_located(path), Catalogue)


def fixed_prompts(prompts: PromptsFile) -> list[PromptSpec]:
    """The fixed prompts, in file order."""
    return [
        PromptSpec(prompt_id, text, f"prompts.{prompt_id}")
        for prompt_id, text in prompts.prompts.by_id().items()
    ]


def _clean_name(name: str, number: str) -> str:
    # A name that already contains the number ("12315热线") would say it twice.
    return name.replace(number, "").strip() if number in name else name


def transition_text(templates: Templates, *, name: str, number: str, main: str = "12345") -> str:
    """The transition prompt of a whole-merge line."""
    return templates.transition.format(name=_clean_name(name, number), number=number, main=main)


def merged_into_text(
    templates: Templates,
    *,
    name: str,
    number: str,
    target: str,
    target_name: str,
    main: str = "12345",
) -> str:
    """The prompt of a line merged into another line (``target``, e.g. 12315)."""
    return templates.merged_into.format(
        name=_clean_name(name, number),
        number=number,
        target=target,
        target_name=_clean_name(target_name, target),
        main=main,
    )


def national_names(catalogue: Catalogue) -> dict[str, str]:
    """Number → name from the national baseline list."""
    return {entry.number: entry.name for entry in catalogue.national}


def line_name(line: Line, national: dict[str, str], unnamed: str) -> str:
    """The name a prompt says for ``line``."""
    return line.name or national.get(line.number) or unnamed


def _target_name(region: Region, target: str, national: dict[str, str]) -> str:
    for other in region.lines:
        if other.number == target and other.name:
            return other.name
    return national.get(target, "")


def line_prompt_text(
    prompts: PromptsFile, catalogue: Catalogue, region: Region, line: Line
) -> str | None:
    """The transition text for ``line``, or None when the line gets no transition prompt."""
    merged_into = line.remark is not None and line.remark.kind is RemarkKind.MERGED_INTO
    if line.mode is not MergeMode.WHOLE_MERGE and not merged_into:
        return None
    if line.prompt_text:
        return line.prompt_text
    templates = prompts.templates
    national = national_names(catalogue)
    name = line_name(line, national, templates.unnamed_line)
    target = line.remark.number if line.remark is not None and merged_into else None
    if target is None or target == region.main_number:
        return transition_text(templates, name=name, number=line.number, main=region.main_number)
    return merged_into_text(
        templates,
        name=name,
        number=line.number,
        target=target,
        target_name=_target_name(region, target, national),
        main=region.main_number,
    )


def catalogue_prompts(prompts: PromptsFile, catalogue: Catalogue) -> list[PromptSpec]:
    """Every per-line transition prompt of every region, in catalogue order."""
    specs: list[PromptSpec] = []
    for region_id, region in catalogue.regions.items():
        for index, line in enumerate(region.lines):
            text = line_prompt_text(prompts, catalogue, region, line)
            if text is not None:
                specs.append(
                    PromptSpec(
                        transition_prompt_id(region_id, line.number),
                        text,
                        f"regions.{region_id}.lines[{index}]",
                    )
                )
    return specs


def all_prompts(prompts: PromptsFile, catalogue: Catalogue | None = None) -> list[PromptSpec]:
    """Fixed plus per-line prompts; raise ``ValueError`` if one id gets two texts."""
    seen: dict[str, PromptSpec] = {}
    for spec in fixed_prompts(prompts) + (
        catalogue_prompts(prompts, catalogue) if catalogue is not None else []
    ):
        earlier = seen.get(spec.id)
        if earlier is None:
            seen[spec.id] = spec
        elif earlier.text != spec.text:
            raise ValueError(
                f"prompt {spec.id!r} gets two different texts ({earlier.source} and {spec.source})"
            )
    return list(seen.values())
