"""The running engine's configuration: reloads keep the last good one on error.

A reload never raises: any failure (a located :class:`ConfigError`, or anything else,
logged with its traceback) keeps the configuration calls are routed with now.

Some settings are read once at start-up (a listening socket's address, the decision
budget, ...). The holder is told their key paths in ``routing_rules.yaml``
(``startup_settings``); a reload that changes one keeps the running value, applies
everything else, logs that the change waits for a restart and lists the path in
:attr:`ConfigHolder.pending_restart`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ivr.config.engine import RULES_FILE, EngineConfig, load_engine_config
from ivr.config.errors import ConfigError, ConfigProblem
from ivr.config.yamlsrc import format_path, load_located

log = logging.getLogger(__name__)

SettingPath = tuple[str, ...]

_MISSING: Any = object()


class ConfigHolder:
    """Holds the current :class:`EngineConfig`; :meth:`reload` never leaves it broken."""

    def __init__(self, directory: Path,
                 loader: Callable[[Path], EngineConfig] = load_engine_config,
                 startup_settings: Iterable[Sequence[str]] = ()) -> None:
        self._directory = Path(directory)
        self._loader = loader
        self._startup: tuple[SettingPath, ...] = ()
        self.startup_settings = startup_settings
        self._current = loader(self._directory)
        self._mtimes = self._stat()
        self._pending: list[str] = []
        self.reloads_applied = 0
        self.reloads_rejected = 0
        self.last_problems: list[str] = []  # the last rejected reload's problems

    @property
    def current(self) -> EngineConfig:
        """The configuration calls are routed with now."""
        return self._current

    @property
    def startup_settings(self) -> tuple[SettingPath, ...]:
        """Key paths in ``routing_rules.yaml`` that only a restart changes."""
        return self._startup

    @startup_settings.setter
    def startup_settings(self, paths: Iterable[Sequence[str]]) -> None:
        """Set once the features have registered theirs (before the first reload)."""
        self._startup = tuple(dict.fromkeys(tuple(path) for path in paths))

    @startup_settings.setter
    def startup_settings(self, paths: Iterable[Sequence[str]]) -> None:
        """Declared once the features have registered (each names its own)."""
        self._startup = tuple(dict.fromkeys(tuple(path) for path in paths))

    @property
    def pending_restart(self) -> list[str]:
        """Start-up settings (``listening.enabled``) whose value on disk differs from the
        running one after the last applied reload: they take effect after a restart."""
        return list(self._pending)

    def _stat(self) -> tuple[float, ...]:
        files = ("merger_catalogue.yaml", "routing_rules.yaml", "agents.yaml")
        out = []
        for name in files:
            try:
                out.append((self._directory / name).stat().st_mtime)
            except OSError:
                out.append(0.0)
        return tuple(out)

    def changed_on_disk(self) -> bool:
        """True when a configuration file's mtime moved since the last (re)load."""
        return self._stat() != self._mtimes

    def reload(self) -> bool:
        """Load again; on any error log it and keep the last good configuration.

        Returns True when a new configuration was applied. Never raises.
        """
        try:
            self._mtimes = self._stat()
            fresh = self._loader(self._directory)
            fresh, pending = self._keep_startup_settings(fresh)
        except ConfigError as exc:
            self._rejected([str(problem) for problem in exc.problems]
                           or ["the configuration was rejected"])
            return False
        except Exception as exc:  # a reload must never take the controller down
            log.error("config reload failed unexpectedly", exc_info=True)
            self._rejected([f"{self._directory}: {type(exc).__name__}: {exc}"])
            return False
        self._current = fresh
        self._pending = pending
        self.reloads_applied += 1
        self.last_problems = []
        log.info("configuration reloaded from %s (region %s)", self._directory, fresh.region)
        return True

    def _rejected(self, problems: list[str]) -> None:
        for problem in problems:
            log.error("config reload rejected: %s", problem)
        self.reloads_rejected += 1
        self.last_problems = problems
        try:
            region = self._current.region
        except Exception:  # noqa: BLE001 - only for the log line
            region = "?"
        log.error("keeping the last good configuration (region %s)", region)

    def _keep_startup_settings(self, fresh: EngineConfig) -> tuple[EngineConfig, list[str]]:
        """``fresh`` with the running value of every start-up setting that changed."""
        if not self._startup:
            return fresh, []
        running_rules = self._current.rules
        rules = fresh.rules
        pending: list[str] = []
        for path in self._startup:
            old = _get(running_rules, path)
            new = _get(rules, path)
            if old == new:
                continue
            rules = _set(rules, running_rules, path)
            name = format_path(path)
            pending.append(name)
            log.warning("%s", ConfigProblem(
                str(self._directory / RULES_FILE), self._line_of(path), name,
                f"changed to {_show(new)}; a start-up setting — takes effect after a restart "
                f"of hotline run (keeping {_show(old)})"))
        if rules is fresh.rules:
            return fresh, pending
        return dataclasses.replace(fresh, rules=rules), pending

    def _line_of(self, path: SettingPath) -> int:
        try:
            return load_located(self._directory / RULES_FILE).line_of(path)
        except Exception:  # noqa: BLE001 - the file changed again under us; the key still tells
            return 1


def _get(obj: Any, path: SettingPath) -> Any:
    for part in path:
        if obj is None or obj is _MISSING:
            return _MISSING
        obj = obj.get(part, _MISSING) if isinstance(obj, dict) else getattr(obj, part, _MISSING)
    return obj


def _set(target: Any, source: Any, path: SettingPath) -> Any:
    """``target`` with the value at ``path`` taken from ``source``, copying each model on
    the way down (``model_copy``); where ``target`` has nothing to descend into, the whole
    sub-value of ``source`` is taken."""
    head, rest = path[0], path[1:]
    source_value = _get(source, (head,))
    if rest:
        target_value = _get(target, (head,))
        if target_value is _MISSING or target_value is None or source_value in (_MISSING, None):
            value = source_value
        else:
            value = _set(target_value, source_value, rest)
    else:
        value = source_value
    if isinstance(target, dict):
        out = dict(target)
        if value is _MISSING:
            out.pop(head, None)
        else:
            out[head] = value
        return out
    if isinstance(target, BaseModel):
        if value is _MISSING:
            return target  # the running value had no such field: nothing to keep
        return target.model_copy(update={head: value})
    raise TypeError(f"cannot keep {head!r} in a {type(target).__name__}")


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    if isinstance(value, BaseModel):
        return json.dumps(value.model_dump(mode="json"), ensure_ascii=False)
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return repr(value)
    return str(value)
