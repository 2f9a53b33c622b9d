"""The command line's shared parts (the core's, so every feature's commands use them): the one
error path of ``hotline``: commands raise, :func:`ivr.cli.main.main` prints and picks the
exit status.

- :class:`CliError`: a user-facing refusal (``hotline <command>: <message>``, status 1 by
  default, 2 for wrong usage);
- :class:`ivr.config.errors.ConfigError`: every problem as ``file:line: key: message``,
  status 1;
- ``OSError``: the file or socket and why, status 1; Ctrl-C: status 130.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.config.engine import EngineConfig


class CliError(Exception):
    """A command cannot do what was asked; the message says why (no traceback)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def load_config(directory: str | Path | None, *, cached: bool = False) -> EngineConfig:
    """The configuration for a command: located (``--config``, ``$HOTLINE_CONFIG_DIR``, …)
    and validated; :class:`~ivr.config.errors.ConfigError` goes to the one error path."""
    from ivr.config.locate import locate_config_dir

    where = locate_config_dir(Path(directory) if directory is not None else None).directory
    if cached:
        from ivr.config.cache import load_engine_config_cached

        return load_engine_config_cached(where)
    from ivr.config.engine import load_engine_config

    return load_engine_config(where)
