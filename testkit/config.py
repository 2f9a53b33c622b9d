"""Edited copies of the configuration, for tests and benchmarks."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

CONFIG_FILES = ("merger_catalogue.yaml", "routing_rules.yaml", "agents.yaml")


def edited_config(source: Path, target: Path, edits: Sequence[tuple[str, str]] = (),
                  roster: str | None = None) -> Path:
    """A copy of the configuration in ``source`` at ``target`` (recordings linked, not copied)
    with text ``edits`` (old, new) applied once each to routing_rules.yaml and, if given,
    ``roster`` as agents.yaml. ``ValueError`` when an edit's old text is not there."""
    target.mkdir(parents=True, exist_ok=True)
    for name in CONFIG_FILES:
        shutil.copy(source / name, target / name)
    if not (target / "recordings").exists():
        (target / "recordings").symlink_to(source / "recordings")
    if roster is not None:
        (target / "agents.yaml").write_text(roster, encoding="utf-8")
    rules = target / "routing_rules.yaml"
    text = rules.read_text(encoding="utf-8")
    for old, new in edits:
        if old not in text:
            raise ValueError(f"{rules}: {old!r} not found")
        text = text.replace(old, new, 1)
    rules.write_text(text, encoding="utf-8")
    return target
