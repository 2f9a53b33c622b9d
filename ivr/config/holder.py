"""The running engine's configuration: reloads keep the last good one on error."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ivr.config.engine import EngineConfig, load_engine_config
from ivr.config.errors import ConfigError

log = logging.getLogger(__name__)


class ConfigHolder:
    """Holds the current :class:`EngineConfig`; :meth:`reload` never leaves it broken."""

    def __init__(self, directory: Path,
                 loader: Callable[[Path], EngineConfig] = load_engine_config) -> None:
        self._directory = directory
        self._loader = loader
        self._current = loader(directory)
        self._mtimes = self._stat()

    @property
    def current(self) -> EngineConfig:
        """The configuration calls are routed with now."""
        return self._current

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
        """Load again; on error log every problem and keep the last good configuration."""
        self._mtimes = self._stat()
        try:
            fresh = self._loader(self._directory)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("config reload rejected: %s", problem)
            log.error("keeping the last good configuration (region %s)", self._current.region)
            return False
        self._current = fresh
        log.info("configuration reloaded from %s (region %s)", self._directory, fresh.region)
        return True
