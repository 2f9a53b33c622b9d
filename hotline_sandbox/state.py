"""The run-state file ``sandbox.json``: what runs where.

The controller and the integration tests read this file to find Asterisk's
AMI/SIP addresses and the AMI credentials.  It holds the AMI secret, so it is
written with mode 0600 and never inside the repository.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline_sandbox.errors import SandboxError
from ivr.core.rundir import write_private

STATE_FORMAT = 1


@dataclass(frozen=True)
class SandboxState:
    """A running sandbox, as recorded in ``sandbox.json``."""

    pid: int
    """Process id of Asterisk (on the host)."""
    pid_start_time: int
    """Start time of that process (``/proc/PID/stat`` field 22), to detect pid reuse."""
    kind: str
    """``chroot`` (Debian sid chroot) or ``host`` (distribution Asterisk)."""
    root: str
    """The chroot directory, or ``/`` for a host Asterisk."""
    asterisk_version: str
    uid: int
    """The uid Asterisk runs as."""
    gid: int
    sip_host: str
    sip_port: int
    ami_host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    agi_url: str
    fallback_dial: str
    agent_dial: str
    config_dir: str
    """Host path of the directory Asterisk reads its configuration from."""
    asterisk_conf: str
    """asterisk.conf as Asterisk sees it (``asterisk -C``)."""
    log_path: str
    """Asterisk's stdout/stderr, in the run dir."""
    asterisk_log: str
    """Host path of Asterisk's ``full`` log."""
    sounds_dir: str
    """Sounds root as Asterisk sees it; ``hotline/x`` is ``<sounds_dir>/hotline/x``."""
    recordings_dir: str
    """Host directory shown to Asterisk as ``<sounds_dir>/hotline``."""
    run_dir: str
    state_path: str
    started_at: float
    """Unix time of the (last) Asterisk start."""
    rtp_start: int
    rtp_end: int
    asterisk_binary: str = "/usr/sbin/asterisk"
    """The asterisk executable as Asterisk sees it."""
    peer_ports: dict[str, int] = field(default_factory=dict)
    """Endpoint name -> loopback SIP port of each test peer (agent-1001 ... emergency-backup)."""
    mounts: list[str] = field(default_factory=list)
    """Host mount points the sandbox made (unmounted by ``down``)."""

    @property
    def ami_address(self) -> tuple[str, int]:
        """``(host, port)`` of the AMI."""
        return (self.ami_host, self.ami_port)

    @property
    def sip_address(self) -> tuple[str, int]:
        """``(host, port)`` of the PJSIP UDP transport."""
        return (self.sip_host, self.sip_port)

    def replace(self, **changes: Any) -> SandboxState:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self, *, redact_secret: bool = False) -> dict[str, Any]:
        """JSON-ready dict; with *redact_secret* the AMI secret is masked."""
        data = dataclasses.asdict(self)
        if redact_secret:
            data["ami_secret"] = "********"
        data["format"] = STATE_FORMAT
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxState:
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise SandboxError(f"malformed sandbox state: {exc}") from None


def load_state(path: Path) -> SandboxState | None:
    """The state recorded at *path*, or ``None`` when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SandboxError(f"refusing {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(1 << 20).decode("utf-8", errors="replace")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SandboxError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SandboxError(f"{path} does not hold a JSON object")
    return SandboxState.from_dict(data)


def save_state(path: Path, state: SandboxState) -> None:
    """Write *state* to *path* atomically with mode 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = (json.dumps(state.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")
    # exclusive, never through a link, 0600 from creation, renamed into place
    with write_private(path) as fd:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def remove_state(path: Path) -> None:
    """Delete the state file if present."""
    path.unlink(missing_ok=True)
