"""Every environment variable the engine reads, named in one place (stdlib only: the
admin commands import this on their fast path)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

RUN_DIR_ENV = "HOTLINE_RUN_DIR"
XDG_RUNTIME_DIR_ENV = "XDG_RUNTIME_DIR"  # the run directory's default parent, when set
CONFIG_DIR_ENV = "HOTLINE_CONFIG_DIR"
AMI_ENV = ("HOTLINE_AMI_HOST", "HOTLINE_AMI_PORT", "HOTLINE_AMI_USER", "HOTLINE_AMI_SECRET")
#: "1" lets `hotline run` (and the agent CLI) fill what HOTLINE_AMI_* leave unset from the
#: sandbox's state file; off by default: a planted state file must never get the secret
AMI_FROM_SANDBOX_ENV = "HOTLINE_AMI_FROM_SANDBOX"
#: FastAGI peers allowed (comma-separated addresses or networks); default 127.0.0.1 and ::1
AGI_ALLOW_ENV = "HOTLINE_AGI_ALLOW"
VOSK_MODEL_ENV = "HOTLINE_VOSK_MODEL"  # overrides listening.model_path
MODEL_DIR_ENV = "HOTLINE_MODEL_DIR"  # where tools/fetch_vosk_model installs models


def vosk_model_override() -> str | None:
    """``$HOTLINE_VOSK_MODEL`` when set and not empty."""
    return os.environ.get(VOSK_MODEL_ENV) or None


def model_dir() -> Path:
    """Where speech models are installed: ``$HOTLINE_MODEL_DIR`` or the user's cache."""
    raw = os.environ.get(MODEL_DIR_ENV)
    return Path(raw) if raw else Path.home() / ".cache" / "hotline12345" / "models"


def flag(name: str, env: Mapping[str, str] | None = None) -> bool:
    """A yes/no variable: ``1``, ``true``, ``yes`` or ``on`` (any case) is yes."""
    value = (os.environ if env is None else env).get(name, "")
    return value.strip().lower() in ("1", "true", "yes", "on")
