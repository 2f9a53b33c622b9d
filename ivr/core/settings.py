"""The engine's settings from the environment, read in one place.

Files (``routing_rules.yaml`` …) hold what admins edit; the environment holds where
things are and the secrets, which never go into a file of the repository.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.ami.client import AmiSettings
from ivr.core.environ import AMI_FROM_SANDBOX_ENV, CONFIG_DIR_ENV, flag
from ivr.core.rundir import RunDir, RunDirError, check_private_dir


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
        run_dir = RunDir.from_env(env)
        config = env.get(CONFIG_DIR_ENV)
        return cls(run_dir, Path(config) if config else None, ami_settings(run_dir, env))


def ami_settings(run_dir: RunDir, env: Mapping[str, str] | None = None, *,
                 from_sandbox: bool | None = None) -> AmiSettings:
    """AMI login from ``HOTLINE_AMI_*``; what they leave unset is filled from the sandbox's
    state file only when asked (``from_sandbox``, default ``$HOTLINE_AMI_FROM_SANDBOX``),
    and only from a state file in a private run directory, owned by us and not a link:
    anyone who could plant that file would otherwise get the secret sent to their port."""
    env = os.environ if env is None else env
    if from_sandbox is None:
        from_sandbox = flag(AMI_FROM_SANDBOX_ENV, env)
    state = sandbox_ami_state(run_dir) if from_sandbox else {}
    return AmiSettings(
        host=env.get("HOTLINE_AMI_HOST") or str(state.get("ami_host", "127.0.0.1")),
        port=int(env.get("HOTLINE_AMI_PORT") or str(state.get("ami_port", 5038))),
        username=env.get("HOTLINE_AMI_USER") or str(state.get("ami_user", "hotline")),
        secret=env.get("HOTLINE_AMI_SECRET") or str(state.get("ami_secret", "")),
    )


def sandbox_ami_state(run_dir: RunDir) -> dict[str, object]:
    """The sandbox state file's content, or :class:`RunDirError` when it is missing, not
    ours, a link, readable by others, or in an unsafe run directory."""
    check_private_dir(run_dir.path, hint="the sandbox state is read only from a private "
                                         "run directory")
    path = run_dir.sandbox_state
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RunDirError(f"no sandbox state in {path}: is the sandbox up (tools/sandbox up)?"
                          ) from None
    except OSError as exc:
        raise RunDirError(f"refusing sandbox state {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() \
                or info.st_mode & 0o077:
            raise RunDirError(f"refusing sandbox state {path}: not a 0600 file of ours")
        raw = handle.read(1 << 20)
    try:
        state = json.loads(raw)
    except ValueError as exc:
        raise RunDirError(f"sandbox state {path} is not JSON: {exc}") from None
    if not isinstance(state, dict):
        raise RunDirError(f"sandbox state {path} is not a JSON object")
    return state
