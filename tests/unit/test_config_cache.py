"""The validated-configuration cache behind ``hotline route``."""

from __future__ import annotations

import pickle
import shutil
import stat
from pathlib import Path

import pytest

from ivr.config import cache
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.config.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's configuration, and a private cache home."""
    directory = tmp_path / "config"
    directory.mkdir()
    for name in cache.CONFIG_FILES:
        shutil.copyfile(ROOT / name, directory / name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return directory


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Count the real (validating) loads the cache falls back to."""
    calls: list[Path] = []

    def counting(directory: str | Path) -> EngineConfig:
        calls.append(Path(directory))
        return load_engine_config(directory)

    monkeypatch.setattr(cache, "load_engine_config", counting)
    return calls


def _only_pickle() -> Path:
    files = sorted(cache.cache_dir().glob("config-*.pickle"))
    assert len(files) == 1, files
    return files[0]


def test_hit_returns_an_equal_config_without_validating(config_dir: Path, loads: list[Path],
                                                        tmp_path: Path) -> None:
    first = cache.load_engine_config_cached(config_dir)
    assert len(loads) == 1
    assert cache.cache_dir() == tmp_path / "xdg" / "hotline12345" / "config"
    second = cache.load_engine_config_cached(config_dir)
    assert len(loads) == 1, "the second call must come from the cache"
    assert second == first
    assert second is not first
    assert second.region == first.region
    assert second.catalogue.regions.keys() == first.catalogue.regions.keys()


def test_files_are_private(config_dir: Path, loads: list[Path]) -> None:
    cache.load_engine_config_cached(config_dir)
    path = _only_pickle()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not list(path.parent.glob(".config-*")), "no temporary file left behind"


def test_editing_a_file_invalidates(config_dir: Path, loads: list[Path]) -> None:
    cache.load_engine_config_cached(config_dir)
    before = _only_pickle().name
    rules = config_dir / "routing_rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    cache.load_engine_config_cached(config_dir)
    assert len(loads) == 2
    names = {p.name for p in cache.cache_dir().glob("config-*.pickle")}
    assert before in names and len(names) == 2
    cache.load_engine_config_cached(config_dir)
    assert len(loads) == 2


def test_a_corrupt_cache_file_is_ignored_and_replaced(config_dir: Path, loads: list[Path]) -> None:
    good = cache.load_engine_config_cached(config_dir)
    path = _only_pickle()
    for junk in (b"not a pickle at all", pickle.dumps({"an": "other object"}), b""):
        path.write_bytes(junk)
        assert cache.load_engine_config_cached(config_dir) == good
        with path.open("rb") as handle:
            assert isinstance(pickle.load(handle), EngineConfig), "the bad file is rewritten"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(loads) == 4


def test_an_invalid_configuration_raises_and_is_not_cached(config_dir: Path, loads: list[Path]) -> None:
    (config_dir / "agents.yaml").write_text("agents: [oops\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        cache.load_engine_config_cached(config_dir)
    assert not cache.cache_dir().exists() or not list(cache.cache_dir().glob("config-*.pickle"))


def test_an_unwritable_cache_falls_back(config_dir: Path, loads: list[Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert cache.load_engine_config_cached(config_dir).region
    assert cache.load_engine_config_cached(config_dir).region
    assert len(loads) == 2
