"""Settings, state file, CLI wiring and helpers of the sandbox (no Asterisk needed)."""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path

import pytest

from hotline_sandbox import cli
from hotline_sandbox.errors import SandboxError
from hotline_sandbox.locate import asterisk_argv, parse_version
from hotline_sandbox.mounts import _unescape
from hotline_sandbox.settings import SandboxSettings
from hotline_sandbox.state import SandboxState, load_state, save_state


def _state(tmp_path: Path) -> SandboxState:
    return SandboxState(
        pid=4242,
        pid_start_time=99,
        kind="chroot",
        root="/cache/asterisk-sid",
        asterisk_version="22.10.1",
        uid=101,
        gid=101,
        sip_host="127.0.0.1",
        sip_port=5060,
        ami_host="127.0.0.1",
        ami_port=5038,
        ami_user="hotline",
        ami_secret="top-secret",
        agi_url="agi://127.0.0.1:4573",
        fallback_dial="PJSIP/fallback-desk",
        agent_dial="PJSIP/agent-1001",
        config_dir="/cache/asterisk-sid/etc/asterisk",
        asterisk_conf="/etc/asterisk/asterisk.conf",
        log_path=str(tmp_path / "asterisk.log"),
        asterisk_log="/cache/asterisk-sid/var/log/asterisk/full",
        sounds_dir="/usr/share/asterisk/sounds",
        recordings_dir="/repo/recordings",
        run_dir=str(tmp_path),
        state_path=str(tmp_path / "sandbox.json"),
        started_at=1.0,
        rtp_start=10000,
        rtp_end=10999,
        peer_ports={"agent-1001": 5171},
        mounts=["/cache/asterisk-sid/proc"],
    )


def test_settings_from_env() -> None:
    env = {
        "HOTLINE_RUN_DIR": "/tmp/x-run",
        "HOTLINE_CACHE_DIR": "/tmp/x-cache",
        "HOTLINE_AMI_SECRET": "abc",
        "HOTLINE_SIP_PORT": "15060",
        "HOTLINE_ASTERISK": "chroot",
        "HOTLINE_RECORDINGS_DIR": "/tmp/prompts",
    }
    settings = SandboxSettings.from_env(env)
    assert settings.run_dir == Path("/tmp/x-run")
    assert settings.chroot_dir == Path("/tmp/x-cache/asterisk-sid")
    assert settings.state_path == Path("/tmp/x-run/sandbox.json")
    assert settings.recordings_dir == Path("/tmp/prompts")
    assert settings.ami_secret == "abc"
    assert settings.sip_port == 15060
    assert settings.ami_port == 5038
    assert settings.asterisk_mode == "chroot"


def test_settings_defaults() -> None:
    settings = SandboxSettings.from_env({})
    # never the fixed, guessable /tmp/hotline12345 (issue 12): root's is in /run
    assert settings.run_dir == (Path("/run/hotline12345") if os.geteuid() == 0
                                else Path(f"/tmp/hotline12345-{os.geteuid()}"))
    assert SandboxSettings.from_env({"XDG_RUNTIME_DIR": "/run/user/7"}).run_dir == Path(
        "/run/user/7/hotline12345")
    assert settings.cache_dir == Path.home() / ".cache" / "hotline12345"
    assert settings.ami_secret is None
    assert (settings.sip_port, settings.ami_port) == (5060, 5038)
    assert settings.agi_url == "agi://127.0.0.1:4573"
    assert settings.fallback_dial == "PJSIP/fallback-desk"
    assert settings.agent_dial == "PJSIP/agent-1001"


@pytest.mark.parametrize(
    "env",
    [{"HOTLINE_SIP_PORT": "x"}, {"HOTLINE_ASTERISK": "docker"}],
)
def test_settings_env_errors(env: dict[str, str]) -> None:
    with pytest.raises(SandboxError):
        SandboxSettings.from_env(env)


@pytest.mark.parametrize(
    "changes",
    [
        {"ami_secret": "has;comment"},
        {"ami_secret": "has space"},
        {"ami_user": "[general]"},
        {"sip_port": 5171},  # clashes with agent-1001
        {"rtp_start": 11000, "rtp_end": 10000},
    ],
)
def test_settings_validate_rejects(changes: dict[str, object]) -> None:
    with pytest.raises(SandboxError):
        SandboxSettings().replace(**changes).validate()


def test_state_roundtrip_and_mode(tmp_path: Path) -> None:
    state = _state(tmp_path)
    path = tmp_path / "sandbox.json"
    save_state(path, state)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_state(path) == state
    assert json.loads(path.read_text())["ami_secret"] == "top-secret"
    assert state.to_dict(redact_secret=True)["ami_secret"] != "top-secret"
    assert state.ami_address == ("127.0.0.1", 5038)
    assert load_state(tmp_path / "missing.json") is None


def test_state_tolerates_unknown_keys(tmp_path: Path) -> None:
    data = _state(tmp_path).to_dict()
    data["added_later"] = 1
    assert SandboxState.from_dict(data).pid == 4242
    del data["pid"]
    with pytest.raises(SandboxError):
        SandboxState.from_dict(data)


def test_parse_version() -> None:
    assert parse_version("Asterisk 22.10.1+dfsg+~cs6.17.60671434-1") == (22, 10, 1)
    assert parse_version("Asterisk 18.10.0~dfsg+~cs6.10.40431411-2") == (18, 10, 0)
    assert parse_version("Asterisk certified/20.7-cert1") is None
    assert parse_version("nope") is None


def test_asterisk_argv_chroot() -> None:
    argv = asterisk_argv(
        "chroot",
        Path("/c"),
        101,
        102,
        "/usr/sbin/asterisk",
        "/etc/asterisk/asterisk.conf",
        "-rx",
        "core show version",
    )
    assert argv == [
        "chroot",
        "--userspec=101:102",
        "/c",
        "/usr/sbin/asterisk",
        "-C",
        "/etc/asterisk/asterisk.conf",
        "-rx",
        "core show version",
    ]


def test_mounts_unescape() -> None:
    assert _unescape(r"/a\040b/c\011d") == "/a b/c\td"
    assert _unescape("/plain") == "/plain"
    assert _unescape("/ends\\04") == "/ends\\04"


def test_add_cli_registers_sandbox_commands() -> None:
    parser = argparse.ArgumentParser(prog="hotline")
    sub = parser.add_subparsers(dest="command")
    cli.add_cli(sub)
    args = parser.parse_args(["sandbox", "status", "--json"])
    assert args.command == "sandbox"
    assert args.sandbox_command == "status"
    assert args.json is True
    assert callable(args.func)
    for command in (
        ["up", "--sip-port", "15060"],
        ["down"],
        ["restart", "--full"],
        ["cli", "core", "show", "version"],
    ):
        assert parser.parse_args(["sandbox", *command]).sandbox_command == command[0]


def test_status_when_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_RUN_DIR", str(tmp_path))
    assert cli.main(["status", "--json"]) == 3
    assert json.loads(capsys.readouterr().out) == {"running": False}
