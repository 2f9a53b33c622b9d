"""Every environment variable the engine reads, named in one place (stdlib only: the
admin commands import this on their fast path)."""

from __future__ import annotations

import os
from pathlib import Path

RUN_DIR_ENV = "HOTLINE_RUN_DIR"
CONFIG_DIR_ENV = "HOTLINE_CONFIG_DIR"
AMI_ENV = ("HOTLINE_AMI_HOST", "HOTLINE_AMI_PORT", "HOTLINE_AMI_USER", "HOTLINE_AMI_SECRET")
VOSK_MODEL_ENV = "HOTLINE_VOSK_MODEL"  # overrides listening.model_path
MODEL_DIR_ENV = "HOTLINE_MODEL_DIR"  # where tools/fetch_vosk_model installs models


def vosk_model_override() -> str | None:
    """``$HOTLINE_VOSK_MODEL`` when set and not empty."""
    return os.environ.get(VOSK_MODEL_ENV) or None


def model_dir() -> Path:
    """Where speech models are installed: ``$HOTLINE_MODEL_DIR`` or the user's cache."""
    raw = os.environ.get(MODEL_DIR_ENV)
    return Path(raw) if raw else Path.home() / ".cache" / "hotline12345" / "models"
