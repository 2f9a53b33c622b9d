"""The core never imports a feature; the ACD depends only on the core."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The core: codecs and adapters, configuration and the pure decision, the speech library
# (AudioSocket codec, VAD, ASR, classifier: no call handling), the event stream, the call
# store, the supervisor.
CORE = ("ivr/core", "ivr/agi", "ivr/ami", "ivr/config", "ivr/catalogue", "ivr/routing",
        "ivr/control", "ivr/prompts", "ivr/speech", "ivr/clock.py", "ivr/masking.py",
        "ivr/tcpserver.py")
FEATURES = ("ivr.calls", "ivr.listening", "ivr.transfers", "ivr.workorders", "ivr.callbacks",
            "ivr.controller", "ivr.cli", "agent_pool")
NOT_SHIPPED = ("testkit", "hotline_sandbox", "speechkit", "tests")


def _modules(*roots: str) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        path = REPO / root
        out.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return out


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offending(paths: list[Path], banned: tuple[str, ...]) -> list[str]:
    return sorted(f"{p.relative_to(REPO)}: {name}" for p in paths for name in _imports(p)
                  if any(name == b or name.startswith(b + ".") for b in banned))


def test_the_core_imports_no_feature() -> None:
    assert _offending(_modules(*CORE), FEATURES + NOT_SHIPPED) == []


def test_the_acd_depends_only_on_the_core() -> None:
    ivr_features = tuple(f for f in FEATURES if f.startswith("ivr.") and f != "ivr.controller")
    banned = (*ivr_features, "ivr.controller", "ivr.cli", *NOT_SHIPPED)
    assert _offending(_modules("agent_pool"), banned) == []


def test_the_shipped_package_imports_no_test_kit() -> None:
    assert _offending(_modules("ivr", "agent_pool"), NOT_SHIPPED) == []


def test_features_do_not_import_the_acd() -> None:
    """Only the composition root and the CLI know the ACD package."""
    features = _modules("ivr/calls", "ivr/listening", "ivr/transfers", "ivr/workorders",
                        "ivr/callbacks")
    assert _offending(features, ("agent_pool",)) == []
