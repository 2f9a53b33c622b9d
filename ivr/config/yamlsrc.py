"""YAML loading that remembers where every value came from.

PyYAML silently keeps the last of two equal keys and forgets line numbers once a
document is constructed. Admins need both: a duplicate key is an error, and
every error names ``file:line``. This module composes the node graph itself and
records the line of each value under its key path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ivr.config.errors import ConfigError, ConfigProblem

KeyPath = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """Render a key path the way an admin reads it: ``regions.anhui.lines[3].mode``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


@dataclass
class LocatedDocument:
    """A parsed YAML document plus the 1-based line of every key path in it."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int:
        """Line of the deepest known prefix of ``path`` (1 when nothing matches)."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)

    def problem(self, path: Sequence[str | int], message: str) -> ConfigProblem:
        """Build a problem located at ``path``."""
        return ConfigProblem(self.file, self.line_of(path), format_path(path), message)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[ConfigProblem] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self._constructor.flatten_mapping(node)
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str | int):
                    self.problems.append(
                        ConfigProblem(self.file, key_node.start_mark.line + 1,
                                      format_path(path), f"unsupported key {key!r}"))
                    continue
                skey = str(key)
                if skey in result:
                    self.problems.append(
                        ConfigProblem(self.file, key_node.start_mark.line + 1,
                                      format_path((*path, skey)), "duplicate key"))
                    continue
                result[skey] = self.build(value_node, (*path, skey))
                self.lines[(*path, skey)] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. 2021-13-16 looks like a date but is not one
            self.problems.append(ConfigProblem(self.file, node.start_mark.line + 1,
                                               format_path(path), f"bad value: {exc}"))
            return None


def load_located(path: str | Path, *, text: str | None = None) -> LocatedDocument:
    """Parse one YAML file; raise :class:`ConfigError` on syntax errors or duplicate keys."""
    name = str(path)
    source = Path(path).read_text(encoding="utf-8") if text is None else text
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([ConfigProblem(name, line, "(syntax)", str(exc.problem or exc))]) from exc
    if node is None:
        return LocatedDocument(name, {}, {(): 1})
    builder = _Builder(name)
    try:
        data = builder.build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([ConfigProblem(name, line, "(value)", str(exc.problem or exc))]) from exc
    if builder.problems:
        raise ConfigError(builder.problems)
    return LocatedDocument(name, data, builder.lines)
