"""Shared fixtures for unit and integration tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE_CONFIG = REPO / "tests" / "fixtures" / "config"


@pytest.fixture
def mini_config(tmp_path: Path) -> Path:
    """A writable copy of the small test configuration."""
    target = tmp_path / "config"
    shutil.copytree(FIXTURE_CONFIG, target)
    return target
