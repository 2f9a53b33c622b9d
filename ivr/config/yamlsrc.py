"""YAML loading that remembers where every value came from.

PyYAML silently keeps the last of two equal keys and forgets line numbers once a
document is constructed. Admins need both: a duplicate key is an error, and
every error names ``file:line``. This module composes the node graph itself and
records the line of each value under its key path.

Every way a file can fail to load becomes a located :class:`ConfigError`, never
another exception: a file that cannot be read (``file:1``), bytes that are not
UTF-8 (the line of the first bad byte, and which encoding the file looks like),
control characters, syntax errors, aliases that expand beyond a budget (an "alias
bomb", refused while composing, before any exponential work), recursive aliases and
nesting deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ivr.config.errors import ConfigError, ConfigProblem

KeyPath = tuple[str | int, ...]
_Pair = tuple[yaml.Node, yaml.Node]

MAX_ALIASES = 500  # alias uses (*name) per document
MAX_NODES = 100_000  # values in the document with every alias expanded (shipped: ~2,500)
MAX_DEPTH = 64  # nesting levels (shipped: 7)

UTF8_BOM = b"\xef\xbb\xbf"
MERGE_TAG = "tag:yaml.org,2002:merge"
SAVE_AS_UTF8 = "save it as UTF-8 (Notepad: 另存为 → 编码 UTF-8)"


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


class _Refused(Exception):
    """A document the guarded composer will not build (alias bomb, recursion, depth)."""

    def __init__(self, mark: yaml.Mark | None, key: str, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.key = key
        self.message = message


class _GuardedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer counts what aliases expand to and how deep it nests.

    The expanded size of a document is its own nodes plus, for every alias use, the
    expanded size of the node it names; both are known the moment the alias is read,
    so a billion-laughs document is refused after a few thousand steps.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._expanded = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias is the composer's own error
                size = self._sizes.get(id(target))
                if size is None:
                    raise _Refused(event.start_mark, "(aliases)",
                                   f"alias *{event.anchor} is used inside the value it names "
                                   "(a recursive structure): write the value out")
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    raise _Refused(event.start_mark, "(aliases)",
                                   f"more than {MAX_ALIASES} aliases (*name): write the values "
                                   "out instead")
                self._expanded += size
                if self._expanded > MAX_NODES:
                    raise _Refused(event.start_mark, "(aliases)",
                                   f"alias *{event.anchor} makes the document expand beyond "
                                   f"{MAX_NODES} values (nested aliases, an 'alias bomb'?): "
                                   "write the values out instead")
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _Refused(mark, "(nesting)",
                           f"nested more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return node
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        self._sizes[id(node)] = size
        self._expanded += 1
        if self._expanded > MAX_NODES:
            raise _Refused(node.start_mark, "(document)",
                           f"more than {MAX_NODES} values in one file")
        return node


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[ConfigProblem] = []
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            merged, own = self._pairs(node)
            result: dict[str, Any] = {}
            own_keys: set[str] = set()
            # Pairs merged in with ``<<: *anchor`` first (a later one wins), then the
            # mapping's own keys, which override them and must be unique.
            for is_own, (key_node, value_node) in [*((False, p) for p in merged),
                                                   *((True, p) for p in own)]:
                key = self._constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str | int):
                    self.problems.append(
                        ConfigProblem(self.file, key_node.start_mark.line + 1,
                                      format_path(path), f"unsupported key {key!r}"))
                    continue
                skey = str(key)
                if is_own:
                    if skey in own_keys:
                        self.problems.append(
                            ConfigProblem(self.file, key_node.start_mark.line + 1,
                                          format_path((*path, skey)), "duplicate key"))
                        continue
                    own_keys.add(skey)
                result[skey] = self.build(value_node, (*path, skey))
                self.lines[(*path, skey)] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:  # 2021-13-16 looks like a date
            self.problems.append(ConfigProblem(self.file, node.start_mark.line + 1,
                                               format_path(path), f"bad value: {exc}"))
            return None


    def _pairs(self, node: yaml.MappingNode) -> tuple[list[_Pair], list[_Pair]]:
        """``(merged, own)`` pairs of a mapping, without changing the (shared) node."""
        merged: list[_Pair] = []
        own: list[_Pair] = []
        for key_node, value_node in node.value:
            if key_node.tag != MERGE_TAG:
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in reversed(sources):  # the first mapping listed wins
                if not isinstance(source, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"a merge key (<<) needs a mapping, found {source.id}", source.start_mark)
                sub_merged, sub_own = self._pairs(source)
                merged.extend(sub_merged)
                merged.extend(sub_own)
        return merged, own


def read_source(path: str | Path) -> str:
    """The text of a configuration file; :class:`ConfigError` (``file:1`` or the line of
    the first bad byte) when it cannot be read or is not UTF-8. A UTF-8 BOM is dropped."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigProblem(name, 1, "(file)", _unreadable(exc))]) from exc
    return decode_source(name, raw)


def decode_source(name: str, raw: bytes) -> str:
    """Decode a configuration file's bytes as UTF-8 (BOM accepted) or raise a located
    :class:`ConfigError` saying which encoding the file seems to be in."""
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = raw.rfind(b"\n", 0, start) + 1
        line = raw.count(b"\n", 0, start) + 1
        column = len(raw[line_start:start].decode("utf-8", errors="replace")) + 1
        message = (f"not valid UTF-8 (byte 0x{raw[start]:02x} at column {column}; "
                   f"{_guess_encoding(raw)}): {SAVE_AS_UTF8}")
        raise ConfigError([ConfigProblem(name, line, "(file)", message)]) from exc


def _guess_encoding(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the file looks UTF-16-encoded (Notepad's 'Unicode')"
    for codec, label in (("gbk", "GBK"), ("big5", "Big5")):
        try:
            raw.decode(codec)
        except UnicodeDecodeError:
            continue
        return f"the file looks {label}-encoded"
    return "the encoding is unknown"


def _unreadable(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "cannot read the file: it does not exist"
    if isinstance(exc, IsADirectoryError):
        return "cannot read the file: it is a directory"
    if isinstance(exc, PermissionError) or exc.errno == errno.EACCES:
        return "cannot read the file: permission denied"
    return f"cannot read the file: {exc.strerror or exc}"


def _reader_problem(name: str, source: str, exc: yaml.reader.ReaderError) -> ConfigProblem:
    position = exc.position if isinstance(exc.position, int) else 0
    position = max(0, min(position, len(source)))
    line = source.count("\n", 0, position) + 1
    column = position - (source.rfind("\n", 0, position) + 1) + 1
    char = exc.character
    code = char if isinstance(char, int) else (ord(char) if char else 0)
    return ConfigProblem(name, line, "(file)",
                         f"control character U+{code:04X} at column {column} is not allowed "
                         "in YAML: delete it (tabs and line breaks are the only ones allowed)")


def _syntax_problem(name: str, exc: yaml.MarkedYAMLError) -> ConfigProblem:
    mark = exc.problem_mark or exc.context_mark
    line = _mark_line(mark)
    message = str(exc.problem or exc)
    if exc.problem and exc.context:
        context = exc.context
        if exc.context_mark is not None and _mark_line(exc.context_mark) != line:
            context += f" (line {_mark_line(exc.context_mark)})"
        message = f"{context}: {message}"
    return ConfigProblem(name, line, "(syntax)", message)


def _mark_line(mark: yaml.Mark | None) -> int:
    return mark.line + 1 if mark is not None else 1


def load_located(path: str | Path, *, text: str | None = None) -> LocatedDocument:
    """Parse one YAML file; every failure (unreadable, not UTF-8, control characters,
    syntax, alias bombs, nesting, duplicate keys, bad values) is a :class:`ConfigError`."""
    name = str(path)
    source = read_source(path) if text is None else text
    loader: _GuardedLoader | None = None
    try:
        loader = _GuardedLoader(source)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_reader_problem(name, source, exc)]) from exc
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(name, exc)]) from exc
    except _Refused as exc:
        raise ConfigError([ConfigProblem(name, _mark_line(exc.mark), exc.key,
                                         exc.message)]) from exc
    except RecursionError as exc:  # a backstop: MAX_DEPTH refuses first
        line = loader.line + 1 if loader is not None else 1  # where the reader had got to
        raise ConfigError([ConfigProblem(name, line, "(nesting)",
                                         "nested too deeply")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(name, 1, "(syntax)", str(exc))]) from exc
    if node is None:
        return LocatedDocument(name, {}, {(): 1})
    builder = _Builder(name)
    try:
        data = builder.build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise ConfigError([ConfigProblem(name, _mark_line(mark), "(value)",
                                         str(exc.problem or exc))]) from exc
    except RecursionError as exc:
        raise ConfigError([ConfigProblem(name, 1, "(nesting)", "nested too deeply")]) from exc
    if builder.problems:
        raise ConfigError(builder.problems)
    return LocatedDocument(name, data, builder.lines)
