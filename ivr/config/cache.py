"""A cache of validated configurations, for one-shot admin commands (``hotline route``).

Validating ``merger_catalogue.yaml`` with pydantic takes a few hundred milliseconds; an admin
asking for one routing decision should not wait for it every time. The cache key is the
sha256 of the configuration files' bytes, the configuration directory, the package version,
the Python and pydantic versions and a stamp of the package's source files (so that a changed
schema in a development checkout never meets an old pickle). The value is a pickle of the
:class:`~ivr.config.engine.EngineConfig` in
``$XDG_CACHE_HOME/hotline12345/config/config-<key>.pickle`` (``~/.cache/...`` by default):
directory 0700 (a directory of its own: ``hotline12345/`` also holds the sandbox's Asterisk
chroot and speech models), file 0600, written atomically; the newest few are kept.

Only for commands that read the configuration once: ``hotline check`` and the controller's
(re)load always validate. Any problem with the cache (unreadable, corrupt, unwritable) falls
back to :func:`~ivr.config.engine.load_engine_config`; a bad cache file is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

import ivr
from ivr.config.engine import (
    CATALOGUE_FILE,
    ROSTER_FILE,
    RULES_FILE,
    EngineConfig,
    load_engine_config,
)

CACHE_APP_DIR = "hotline12345"
CACHE_SUBDIR = "config"
KEEP = 8  # pickles kept (one per configuration seen); older ones are removed on write
CONFIG_FILES = (CATALOGUE_FILE, RULES_FILE, ROSTER_FILE)
_FORMAT = b"engine-config-cache/1"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/hotline12345/config`` (``~/.cache/...`` when unset or relative)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / CACHE_APP_DIR / CACHE_SUBDIR


def _code_stamp() -> bytes:
    """Path, size and mtime of every module of :mod:`ivr` (the classes in the pickle live there)."""
    digest = hashlib.sha256()
    if ivr.__file__ is not None:
        stack = [Path(ivr.__file__).parent]
        while stack:
            with os.scandir(stack.pop()) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != "__pycache__" and not entry.name.startswith("."):
                            stack.append(Path(entry.path))
                    elif entry.name.endswith(".py"):
                        st = entry.stat()
                        digest.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.digest()


def cache_key(directory: str | Path) -> str | None:
    """The key for ``directory`` as it is now; None when a file cannot be read."""
    import pydantic

    root = Path(directory)
    digest = hashlib.sha256(_FORMAT)
    for part in (str(root.resolve()), ivr.__version__, sys.version, pydantic.VERSION):
        digest.update(part.encode() + b"\0")
    for name in CONFIG_FILES:
        try:
            data = (root / name).read_bytes()
        except OSError:
            return None  # let the loader report it
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    digest.update(_code_stamp())
    return digest.hexdigest()[:32]


def cache_path(key: str) -> Path:
    """The pickle for ``key``."""
    return cache_dir() / f"config-{key}.pickle"


def load_engine_config_cached(directory: str | Path) -> EngineConfig:
    """:func:`load_engine_config` through the cache; raises ``ConfigError`` exactly like it."""
    key = cache_key(directory)
    if key is None:
        return load_engine_config(directory)
    path = cache_path(key)
    cached = _read(path)
    if cached is not None:
        return cached
    config = load_engine_config(directory)  # invalid configurations are never cached
    _write(path, config)
    return config


def _read(path: Path) -> EngineConfig | None:
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_uid != os.getuid():
                return None  # only trust pickles this user wrote
            value = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a corrupt or stale pickle is a cache miss, never a crash
        return None
    return value if isinstance(value, EngineConfig) else None


def _write(path: Path, config: EngineConfig) -> None:
    try:
        data = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)  # 0600
        done = False
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
            done = True
        finally:
            if not done:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        _prune(path.parent)
    except Exception:  # noqa: BLE001 - an unwritable cache only costs the next call's time
        return


def _prune(directory: Path) -> None:
    """Keep the newest :data:`KEEP` pickles."""
    entries = []
    for entry in directory.glob("config-*.pickle"):
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime_ns, entry))
    for _, old in sorted(entries, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()
