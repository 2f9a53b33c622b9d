"""Integration harness: the real sandbox Asterisk (once per session), the controller
(per module) and SIPp peers (per test).

Under ``CI=true`` (or ``HOTLINE_REQUIRE_INTEGRATION=1``) a missing Asterisk or SIPp
is a test failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.sandbox.state import SandboxState
from ivr.testing.controller import ControllerProcess

REPO = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("HOTLINE_REQUIRE_INTEGRATION") == "1"

pytestmark = pytest.mark.integration


def unavailable(reason: str) -> None:
    """Fail under CI, skip on a developer machine without the components."""
    if REQUIRED:
        pytest.fail(f"integration component missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxState]:
    """The sandbox Asterisk, started once for the whole session."""
    if shutil.which("sipp") is None:
        unavailable("sipp is not installed (tools/bootstrap installs Debian's sip-tester)")
    from ivr.sandbox import api
    from ivr.sandbox.errors import SandboxError

    try:
        state = api.up()
    except SandboxError as exc:
        unavailable(f"sandbox Asterisk did not start: {exc}")
        raise
    yield state
    api.down()


def start_controller(sandbox: SandboxState, tmp: Path, at: str | None,
                     config_dir: Path = REPO) -> ControllerProcess:
    """A controller subprocess with its own journal, logged in with the sandbox's AMI secret."""
    env = {
        "HOTLINE_AMI_HOST": sandbox.ami_host,
        "HOTLINE_AMI_PORT": str(sandbox.ami_port),
        "HOTLINE_AMI_USER": sandbox.ami_user,
        "HOTLINE_AMI_SECRET": sandbox.ami_secret,
    }
    controller = ControllerProcess(config_dir, tmp / "run", tmp / "controller.log", at=at,
                                   extra_env=env)
    controller.start()
    return controller


@pytest.fixture(scope="module")
def controller(sandbox: SandboxState, request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    """The controller for one test module; the module may set CONTROLLER_AT and CONFIG_DIR."""
    at = getattr(request.module, "CONTROLLER_AT", None)
    config_dir = getattr(request.module, "CONFIG_DIR", REPO)
    tmp = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    proc = start_controller(sandbox, tmp, at, config_dir)
    yield proc
    proc.stop()


@pytest.fixture
def traces(tmp_path: Path) -> Path:
    """Per-test directory for SIPp traces."""
    return tmp_path / "sipp"
