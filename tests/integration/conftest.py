"""Integration harness: the real sandbox Asterisk (once per session), the controller
(per module) and SIPp peers (per test).

Under ``CI=true`` (or ``HOTLINE_REQUIRE_INTEGRATION=1``) a missing Asterisk or SIPp
is a test failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline_sandbox.state import SandboxState
from ivr.core.callstore import CallRecord
from testkit.config import edited_config
from testkit.controller import ControllerProcess
from testkit.sipp import SippPeer, answering_peer, place_call

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
    from hotline_sandbox import api
    from hotline_sandbox.errors import SandboxError

    was_running = api.status() is not None
    try:
        state = api.up()
    except SandboxError as exc:
        unavailable(f"sandbox Asterisk did not start: {exc}")
        raise
    yield state
    if not was_running:  # leave a sandbox someone else started (make run, another run) up
        api.down()


def ami_env(sandbox: SandboxState) -> dict[str, str]:
    """The environment that points ``hotline`` at the sandbox's AMI."""
    return {
        "HOTLINE_AMI_HOST": sandbox.ami_host,
        "HOTLINE_AMI_PORT": str(sandbox.ami_port),
        "HOTLINE_AMI_USER": sandbox.ami_user,
        "HOTLINE_AMI_SECRET": sandbox.ami_secret,
    }


def hotline(sandbox: SandboxState, config_dir: Path, *args: str) -> str:
    """Run the ``hotline`` CLI against the sandbox; return stdout (fails the test on error)."""
    result = subprocess.run(
        [sys.executable, "-m", "ivr.cli.main", *args[:1], "--config", str(config_dir), *args[1:]],
        env={**os.environ, **ami_env(sandbox)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"hotline {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def logout_everyone(sandbox: SandboxState, config_dir: Path) -> None:
    """Log everyone out of every ACD queue (members persist in Asterisk between tests)."""
    hotline(sandbox, config_dir, "agent", "logout", "--all")


def start_controller(sandbox: SandboxState, tmp: Path, at: str | None,
                     config_dir: Path = REPO) -> ControllerProcess:
    """A controller subprocess with its own journal, logged in with the sandbox's AMI secret."""
    controller = ControllerProcess(config_dir, tmp / "run", tmp / "controller.log", at=at,
                                   extra_env=ami_env(sandbox))
    controller.start()
    return controller


@pytest.fixture(scope="module")
def controller(sandbox: SandboxState, request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    """The controller for one test module.

    The module may set CONTROLLER_AT (the clock), CONFIG_REGION (a copy of the shipped
    configuration deployed for that region), TEST_ROSTER (agents.yaml text for the copy)
    and LOGIN (agent ids logged in for the whole module; everyone else is logged out).
    """
    at = getattr(request.module, "CONTROLLER_AT", None)
    tmp = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    config_dir = module_config(tmp, getattr(request.module, "CONFIG_REGION", None),
                               getattr(request.module, "TEST_ROSTER", None),
                               getattr(request.module, "RULES_EDIT", ()))
    logout_everyone(sandbox, config_dir)
    login = getattr(request.module, "LOGIN", ())
    if login:
        hotline(sandbox, config_dir, "agent", "login", *login)
    proc = start_controller(sandbox, tmp, at, config_dir)
    yield proc
    proc.stop()
    logout_everyone(sandbox, config_dir)


def module_config(tmp: Path, region: str | None, roster: str | None,
                  rules_edit: tuple[tuple[str, str], ...] = ()) -> Path:
    """The shipped configuration, or a copy deployed for another region or roster, or with
    text replacements (``RULES_EDIT``) in routing_rules.yaml."""
    if region is None and roster is None and not rules_edit:
        return REPO
    deploy = (("  region: sichuan\n", f"  region: {region}\n"),) if region is not None else ()
    return edited_config(REPO, tmp / "config", (*deploy, *rules_edit), roster=roster)


@pytest.fixture
def traces(tmp_path: Path) -> Path:
    """Per-test directory for SIPp traces."""
    return tmp_path / "sipp"


def answered_call(sandbox: SandboxState, controller: ControllerProcess, traces: Path,
                  number: str, answerer: str = "agent-1001", caller: str = "13800138000",
                  answerer_scenario: str = "agent_answer_hangup.xml",
                  timeout_s: int = 60) -> tuple[CallRecord, SippPeer]:
    """A trunk caller dials ``number``; the SIPp peer at ``answerer`` must take the call.

    Fails unless both SIPp sides end cleanly; returns the controller's record of the
    call and the answering peer (for its SIP messages).
    """
    peer = answering_peer(sandbox.peer_ports[answerer], traces, scenario=answerer_scenario,
                          hold_ms=500)
    call = place_call(number, traces, caller=caller, timeout_s=timeout_s)
    assert call.wait(timeout_s) == 0, call.describe()
    assert peer.wait(10) == 0, peer.describe()
    return controller.call_for(number), peer
