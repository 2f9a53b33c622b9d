"""Build hook: ship the repository's configuration as the package's example (``ivr/_example``).

Git keeps one copy of each file, at the repository root where the tests and admins use it;
the build copies them into the package so that an installed ``hotline`` has a configuration
to fall back on (read-only; ``hotline config init DIR`` copies it out). Everything else is in
pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
EXAMPLE_DIR = Path("ivr") / "_example"
#: Kept in step with ivr.config.locate.EXAMPLE_FILES (a build must not import the package).
EXAMPLE_FILES = (
    "merger_catalogue.yaml",
    "routing_rules.yaml",
    "agents.yaml",
    "recordings/prompts.yaml",
    "dialplans/*.tmpl",
)


def example_sources() -> list[Path]:
    """The example's files, relative to the repository root."""
    found: list[Path] = []
    for pattern in EXAMPLE_FILES:
        matches = sorted(p.relative_to(ROOT) for p in ROOT.glob(pattern) if p.is_file())
        if not matches:
            raise FileNotFoundError(f"example configuration: nothing matches {pattern} in {ROOT}")
        found.extend(matches)
    return found


class BuildPyWithExample(build_py):
    """``build_py`` that also copies the example configuration into the build directory."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the repository root itself (ivr.config.locate)
        for rel in example_sources():
            target = Path(self.build_lib) / EXAMPLE_DIR / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / rel, target)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs.extend(str(Path(self.build_lib) / EXAMPLE_DIR / rel) for rel in example_sources())
        return outputs


setup(cmdclass={"build_py": BuildPyWithExample})
