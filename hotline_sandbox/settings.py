"""Sandbox settings: ports, directories and dial strings, with env overrides.

Environment variables read by :meth:`SandboxSettings.from_env`:

``HOTLINE_RUN_DIR``      run directory (default ``$XDG_RUNTIME_DIR/hotline12345``, else
                         ``/run/hotline12345`` for root: :func:`ivr.core.rundir.default_run_dir`)
``HOTLINE_CACHE_DIR``    cache for the Asterisk chroot (default ``~/.cache/hotline12345``)
``HOTLINE_DIALPLANS_DIR`` templates (default the repository's ``dialplans/``)
``HOTLINE_RECORDINGS_DIR`` prompts shown to Asterisk as ``hotline/...`` (default ``recordings/``)
``HOTLINE_AMI_SECRET``   AMI secret (default: generated, kept in the state file)
``HOTLINE_ASTERISK``     ``auto`` (default), ``host`` or ``chroot``
``HOTLINE_SIP_PORT``, ``HOTLINE_AMI_PORT``, ``HOTLINE_AGI_URL``
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hotline_sandbox.errors import SandboxError
from ivr.core.rundir import default_run_dir

AsteriskMode = Literal["auto", "host", "chroot"]

#: Characters allowed in the AMI user name and secret.  They are written into
#: manager.conf, where ``;`` starts a comment and whitespace is trimmed.
_CREDENTIAL_RE = re.compile(r"[A-Za-z0-9._~+=@:/,-]{1,256}")

#: Names of the loopback test peers and the settings field holding each port.
PEER_PORT_FIELDS: Mapping[str, str] = {
    "fallback-desk": "fallback_port",
    "subcenters": "subcenters_port",
    "kept-seats": "kept_seats_port",
    "emergency": "emergency_port",
    "emergency-backup": "emergency_backup_port",
    "supervisor-1101": "supervisor_1101_port",
}

#: Number of agent phones (``agent-1001`` ... ``agent-1008``).
AGENT_COUNT = 8

#: The AMI user's privileges (manager.conf ``read``/``write``), least privilege: write
#: what the controller's actions need (call: Setvar, Getvar, Redirect, Hangup;
#: originate: Originate; agent: QueueAdd, QueueRemove, QueuePause; reporting:
#: CoreShowChannels; QueueStatus, Login and Logoff need none), never system or command;
#: read the classes of the events below (system for FullyBooted only).
AMI_WRITE = ("call", "originate", "agent", "reporting")
AMI_READ = ("call", "user", "agent", "system")

#: Every AMI event the controller consumes (``Registry.ami_events`` of the shipped
#: features, plus the core's FullyBooted; tests/unit/test_hardening_sandbox.py keeps it
#: equal): rendered as ``eventfilter`` lines, so Asterisk sends nothing else.
AMI_EVENTS = (
    "AgentCalled", "AgentComplete", "AgentConnect", "AgentDump", "AgentRingNoAnswer",
    "ConfbridgeLeave", "DialBegin", "DialEnd", "FullyBooted", "Hangup",
    "QueueCallerAbandon", "QueueCallerJoin", "QueueCallerLeave",
    "QueueMemberAdded", "QueueMemberPause", "QueueMemberRemoved", "UserEvent",
)


def ami_eventfilters(events: tuple[str, ...] = AMI_EVENTS) -> str:
    """manager.conf ``eventfilter`` lines letting exactly ``events`` through.

    The legacy filter is a POSIX regular expression over the whole event text; the
    trailing ``[[:space:]]`` ends the name (``Hangup`` must not let ``HangupRequest`` in)
    and works on every Asterisk the sandbox supports (18 and later).
    """
    for name in events:
        if not re.fullmatch(r"[A-Za-z]+", name):
            raise SandboxError(f"not an AMI event name: {name!r}")
    return "\n".join(f"eventfilter = Event: {name}[[:space:]]" for name in events)


def repo_root() -> Path:
    """The repository root (the directory holding ``dialplans/``)."""
    return Path(__file__).resolve().parents[1]


def agent_names() -> list[str]:
    """Endpoint names of the agent phones, ``agent-1001`` first."""
    return [f"agent-{1000 + n}" for n in range(1, AGENT_COUNT + 1)]


def check_credential(kind: str, value: str) -> str:
    """Return *value* if it is safe to write into manager.conf, else raise."""
    if not _CREDENTIAL_RE.fullmatch(value):
        raise SandboxError(
            f"AMI {kind} must be 1-256 characters of [A-Za-z0-9._~+=@:/,-] "
            "(it is written into manager.conf)"
        )
    return value


@dataclass(frozen=True)
class SandboxSettings:
    """Everything that shapes a sandbox.  Immutable; use :meth:`replace`."""

    run_dir: Path = dataclasses.field(default_factory=lambda: default_run_dir({}))
    cache_dir: Path = Path.home() / ".cache" / "hotline12345"
    dialplans_dir: Path = dataclasses.field(default_factory=lambda: repo_root() / "dialplans")
    recordings_dir: Path = dataclasses.field(default_factory=lambda: repo_root() / "recordings")
    config_dir: Path = dataclasses.field(default_factory=repo_root)
    """Where merger_catalogue.yaml, routing_rules.yaml and agents.yaml are (queues come from them)."""
    asterisk_mode: AsteriskMode = "auto"
    ami_user: str = "hotline"
    ami_secret: str | None = None
    ami_port: int = 5038
    sip_port: int = 5060
    agi_url: str = "agi://127.0.0.1:4573"
    fallback_dial: str = "PJSIP/fallback-desk"
    agent_dial: str = "PJSIP/agent-1001"
    agent_base_port: int = 5170
    fallback_port: int = 5190
    subcenters_port: int = 5191
    kept_seats_port: int = 5192
    emergency_port: int = 5193
    emergency_backup_port: int = 5194
    supervisor_1101_port: int = 5195  # a supervisor's phone (docs/quality.md)
    rtp_start: int = 10000
    rtp_end: int = 14999  # 2,500 media streams (10999 capped bench/load.py hold at ~500 calls)
    boot_timeout: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SandboxSettings:
        """Defaults overridden by the ``HOTLINE_*`` environment variables."""
        env = os.environ if env is None else env
        base = cls()
        mode = env.get("HOTLINE_ASTERISK", "auto")
        if mode not in ("auto", "host", "chroot"):
            raise SandboxError(f"HOTLINE_ASTERISK must be auto, host or chroot, not {mode!r}")
        cache = env.get("HOTLINE_CACHE_DIR")
        run = env.get("HOTLINE_RUN_DIR")
        recordings = env.get("HOTLINE_RECORDINGS_DIR")
        dialplans = env.get("HOTLINE_DIALPLANS_DIR")
        config = env.get("HOTLINE_CONFIG_DIR")
        return dataclasses.replace(
            base,
            run_dir=Path(run) if run else default_run_dir(env),
            cache_dir=Path(cache).expanduser() if cache else base.cache_dir,
            recordings_dir=Path(recordings).expanduser() if recordings else base.recordings_dir,
            dialplans_dir=Path(dialplans).expanduser() if dialplans else base.dialplans_dir,
            config_dir=Path(config).expanduser() if config else base.config_dir,
            asterisk_mode=mode,  # type: ignore[arg-type]  # checked above
            ami_secret=env.get("HOTLINE_AMI_SECRET") or None,
            ami_port=_int_env(env, "HOTLINE_AMI_PORT", base.ami_port),
            sip_port=_int_env(env, "HOTLINE_SIP_PORT", base.sip_port),
            agi_url=env.get("HOTLINE_AGI_URL", base.agi_url),
        )

    def replace(self, **changes: object) -> SandboxSettings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def chroot_dir(self) -> Path:
        """Where the Debian sid chroot lives (or will be created)."""
        return self.cache_dir / "asterisk-sid"

    @property
    def state_path(self) -> Path:
        """The run-state file (``sandbox.json``)."""
        return self.run_dir / "sandbox.json"

    def agent_ports(self) -> dict[str, int]:
        """Endpoint name -> SIP port of each agent phone (agent-1001 at base+1)."""
        return {name: self.agent_base_port + i for i, name in enumerate(agent_names(), start=1)}

    def peer_ports(self) -> dict[str, int]:
        """Endpoint name -> SIP port of every loopback test peer, agents included."""
        ports = self.agent_ports()
        for name, field in PEER_PORT_FIELDS.items():
            value = getattr(self, field)
            assert isinstance(value, int)
            ports[name] = value
        return ports

    def validate(self) -> None:
        """Raise :class:`SandboxError` on inconsistent settings."""
        check_credential("user", self.ami_user)
        if self.ami_secret is not None:
            check_credential("secret", self.ami_secret)
        ports = {"SIP": self.sip_port, "AMI": self.ami_port, **self.peer_ports()}
        for name, port in ports.items():
            if not 1 <= port <= 65535:
                raise SandboxError(f"port of {name} out of range: {port}")
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise SandboxError(f"{name} and {seen[port]} share port {port}")
            seen[port] = name
        if not 1024 <= self.rtp_start < self.rtp_end <= 65535:
            raise SandboxError(f"bad RTP range {self.rtp_start}-{self.rtp_end}")


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SandboxError(f"{name} must be an integer, not {raw!r}") from None
