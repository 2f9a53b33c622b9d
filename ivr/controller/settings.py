"""Controller settings, from the command line and the environment (secrets never in files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ivr.agi.server import AllowList
from ivr.ami.client import AmiSettings
from ivr.core.rundir import RunDir
from ivr.core.settings import ami_settings


def default_run_dir() -> Path:
    """Where the sandbox and the controller keep state (:func:`ivr.core.rundir.default_run_dir`)."""
    return RunDir.from_env().path


def ami_settings_from_env(run_dir: Path, from_sandbox: bool | None = None) -> AmiSettings:
    """AMI credentials from ``HOTLINE_AMI_*``; from the sandbox's state file only when told
    (``from_sandbox``, default ``$HOTLINE_AMI_FROM_SANDBOX``)."""
    return ami_settings(RunDir(run_dir), from_sandbox=from_sandbox)


@dataclass(frozen=True)
class ControllerSettings:
    """Everything ``hotline run`` needs."""

    config_dir: Path
    recordings_dir: Path
    run_dir: Path = field(default_factory=default_run_dir)
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_allow: AllowList = field(default_factory=AllowList.loopback)
    """FastAGI peers served; anyone else is refused before a byte is read."""
    ami: AmiSettings = field(default_factory=AmiSettings)
    start_at: datetime | None = None  # a shifted clock for tests and demos
    reload_poll_s: float = 2.0

    @property
    def control_path(self) -> Path:
        """The control API's Unix socket (``hotline transfer`` talks to it)."""
        return self.run_dir / "control.sock"

    @property
    def journal_path(self) -> Path:
        """The call-record journal."""
        return self.run_dir / "calls.jsonl"
