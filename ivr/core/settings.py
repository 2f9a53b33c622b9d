"""The engine's settings from the environment, read in one place.

Files (``routing_rules.yaml`` …) hold what admins edit; the environment holds where
things are and the secrets, which never go into a file of the repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.ami.client import AmiSettings
from ivr.core.environ import CONFIG_DIR_ENV
from ivr.core.rundir import RunDir


@dataclass(frozen=True)
class Environment:
    """What the process environment says: run directory, config directory, AMI login."""

    run_dir: RunDir
    config_dir: Path | None
    ami: AmiSettings

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> Environment:
        """From ``os.environ`` (or ``env``)."""
        env = os.environ if env is None else env
        run_dir = RunDir.from_env() if env is os.environ else RunDir(
            Path(env.get("HOTLINE_RUN_DIR") or RunDir.from_env().path))
        config = env.get(CONFIG_DIR_ENV)
        return cls(run_dir, Path(config) if config else None, ami_settings(run_dir, env))


def ami_settings(run_dir: RunDir, env: Mapping[str, str] | None = None) -> AmiSettings:
    """AMI login from ``HOTLINE_AMI_*``, else from the running sandbox's state file."""
    env = os.environ if env is None else env
    state: dict[str, object] = {}
    try:
        state = json.loads(run_dir.sandbox_state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    return AmiSettings(
        host=env.get("HOTLINE_AMI_HOST", "127.0.0.1"),
        port=int(env.get("HOTLINE_AMI_PORT", str(state.get("ami_port", 5038)))),
        username=env.get("HOTLINE_AMI_USER", str(state.get("ami_user", "hotline"))),
        secret=env.get("HOTLINE_AMI_SECRET", str(state.get("ami_secret", ""))),
    )
