"""The run directory: every file the controller and the CLI share, named in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ivr.core.environ import RUN_DIR_ENV

DEFAULT_RUN_DIR = Path("/tmp/hotline12345")


@dataclass(frozen=True)
class RunDir:
    """Where the controller keeps its state: records, databases, sockets, snapshots."""

    path: Path

    @classmethod
    def from_env(cls) -> RunDir:
        """``$HOTLINE_RUN_DIR``, else the default."""
        return cls(Path(os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR))

    def ensure(self) -> RunDir:
        """Create the directory (0700) when missing."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self

    @property
    def calls_db(self) -> Path:
        """The call store (SQLite)."""
        return self.path / "calls.db"

    @property
    def legacy_journal(self) -> Path:
        """The JSON-lines journal of earlier versions, imported once into the call store."""
        return self.path / "calls.jsonl"

    @property
    def workorders_db(self) -> Path:
        """Work orders (SQLite)."""
        return self.path / "workorders.db"

    @property
    def callbacks_db(self) -> Path:
        """Callback requests (SQLite)."""
        return self.path / "callbacks.db"

    @property
    def acd_snapshot(self) -> Path:
        """The ACD snapshot ``hotline queue status`` reads."""
        return self.path / "acd.json"

    @property
    def control_socket(self) -> Path:
        """The control API's Unix socket."""
        return self.path / "control.sock"

    @property
    def sandbox_state(self) -> Path:
        """The sandbox Asterisk's state file (development only)."""
        return self.path / "sandbox.json"
