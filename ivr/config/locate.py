"""Where the configuration is: the admin's directory, or the example shipped in the package.

Lookup order (first match wins):

1. ``--config DIR``
2. ``$HOTLINE_CONFIG_DIR``
3. the current directory, when it holds ``routing_rules.yaml``
4. ``/etc/hotline12345``, when it exists
5. the example configuration shipped inside the package (read-only; ``hotline config init
   DIR`` copies it somewhere editable)

The wheel carries a copy of the repository's configuration under ``ivr/_example/``
(``setup.py`` copies it at build time, so git keeps one copy of every file). In a source
checkout or an editable install there is no ``_example``: the repository root is the example.

Stdlib only: ``hotline route`` imports this before anything heavy.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

CONFIG_ENV = "HOTLINE_CONFIG_DIR"
SYSTEM_CONFIG_DIR = Path("/etc/hotline12345")
MARKER_FILE = "routing_rules.yaml"
EXAMPLE_PACKAGE_DIR = "_example"

#: The files of an example configuration, relative to its directory (globs allowed).
EXAMPLE_FILES: tuple[str, ...] = (
    "merger_catalogue.yaml",
    "routing_rules.yaml",
    "agents.yaml",
    "recordings/prompts.yaml",
    "dialplans/*.tmpl",
)

EXAMPLE_NOTICE = ("using the example configuration shipped with the package; "
                  "copy it with `hotline config init DIR`")


class ConfigSource(StrEnum):
    """Which rule of the lookup found the directory."""

    OPTION = "--config"
    ENV = CONFIG_ENV
    CWD = "current directory"
    SYSTEM = str(SYSTEM_CONFIG_DIR)
    EXAMPLE = "example shipped with the package"


@dataclass(frozen=True)
class ConfigLocation:
    """A configuration directory and why it was chosen."""

    directory: Path
    source: ConfigSource

    @property
    def is_example(self) -> bool:
        """True for the read-only example inside the package."""
        return self.source is ConfigSource.EXAMPLE


def example_config_dir() -> Path | None:
    """The example configuration: ``ivr/_example`` in a built package, else the source checkout."""
    import ivr

    package_dir = Path(ivr.__file__).resolve().parent
    shipped = package_dir / EXAMPLE_PACKAGE_DIR
    if (shipped / MARKER_FILE).is_file():
        return shipped
    checkout = package_dir.parent  # editable install / running from the repository
    if (checkout / MARKER_FILE).is_file() and (checkout / "pyproject.toml").is_file():
        return checkout
    return None


def locate_config_dir(option: str | Path | None = None) -> ConfigLocation:
    """Apply the lookup order; the example is the last resort (cwd when even that is missing)."""
    if option is not None:
        return ConfigLocation(Path(option), ConfigSource.OPTION)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return ConfigLocation(Path(env), ConfigSource.ENV)
    cwd = Path(".")
    if (cwd / MARKER_FILE).is_file():
        return ConfigLocation(cwd, ConfigSource.CWD)
    if SYSTEM_CONFIG_DIR.is_dir():
        return ConfigLocation(SYSTEM_CONFIG_DIR, ConfigSource.SYSTEM)
    example = example_config_dir()
    if example is not None:
        return ConfigLocation(example, ConfigSource.EXAMPLE)
    return ConfigLocation(cwd, ConfigSource.CWD)  # lets the loader name the missing files


def example_files(root: Path) -> list[Path]:
    """The example configuration's files under ``root``, relative, in a stable order."""
    found: list[Path] = []
    for pattern in EXAMPLE_FILES:
        found.extend(sorted(path.relative_to(root) for path in root.glob(pattern) if path.is_file()))
    return found


class ConfigInitError(Exception):
    """``hotline config init`` refused (no example, or files already there)."""


def init_config(target: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the shipped example into ``target``; return the files written (absolute).

    Existing files are never overwritten unless ``force``.
    """
    source = example_config_dir()
    if source is None:
        raise ConfigInitError("no example configuration found in the installed package")
    root = Path(target)
    files = example_files(source)
    if not force:
        clash = [str(root / rel) for rel in files if (root / rel).exists()]
        if clash:
            raise ConfigInitError("would overwrite " + ", ".join(clash) + " (use --force)")
    written: list[Path] = []
    for rel in files:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, dest)  # contents only: site-packages may be read-only
        dest.chmod(0o644)
        written.append(dest)
    (root / "recordings" / "custom").mkdir(parents=True, exist_ok=True)
    return written
