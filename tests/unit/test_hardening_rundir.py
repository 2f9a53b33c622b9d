"""The run directory is private and checked; the AMI secret is never sent to a port read
from a file someone else could have planted; files are 0600 from creation."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.callbacks.store import CallbackStore
from ivr.cli.main import main
from ivr.core.rundir import RunDir, RunDirError, create_private, default_run_dir, write_private
from ivr.core.settings import ami_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_default_is_never_the_fixed_tmp_path() -> None:
    assert default_run_dir({"HOTLINE_RUN_DIR": "/srv/x"}) == Path("/srv/x")
    assert default_run_dir({"XDG_RUNTIME_DIR": "/run/user/1000"}) == Path(
        "/run/user/1000/hotline12345")
    expected = (Path("/run/hotline12345") if os.geteuid() == 0
                else Path(f"/tmp/hotline12345-{os.geteuid()}"))
    assert default_run_dir({}) == expected
    assert default_run_dir({"XDG_RUNTIME_DIR": "relative"}) == expected


def test_ensure_creates_0700(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        run = RunDir(tmp_path / "run").ensure()
    finally:
        os.umask(old)
    assert mode(run.path) == 0o700


def test_a_planted_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.mkdir(mode=0o700)
    (tmp_path / "run").symlink_to(target)
    with pytest.raises(RunDirError, match="symbolic link"):
        RunDir(tmp_path / "run").ensure()
    with pytest.raises(RunDirError, match="symbolic link"):
        RunDir(tmp_path / "run").check()


def test_a_group_or_world_writable_dir_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    os.chmod(run, 0o777)
    with pytest.raises(RunDirError, match="writable by group or others"):
        RunDir(run).ensure()


def test_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("x")
    with pytest.raises(RunDirError, match="not a directory"):
        RunDir(tmp_path / "run").ensure()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create another user's directory")
def test_another_users_dir_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    os.chown(run, 4242, 4242)
    with pytest.raises(RunDirError, match="owned by uid 4242"):
        RunDir(run).ensure()


def test_sandbox_state_is_read_only_when_asked(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run").ensure()
    fd = os.open(run.sandbox_state, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, json.dumps({"ami_port": 6666, "ami_user": "u", "ami_secret": "s"}).encode())
    os.close(fd)
    env = {"HOTLINE_AMI_SECRET": "real"}
    plain = ami_settings(run, env)
    assert (plain.port, plain.username, plain.secret) == (5038, "hotline", "real")
    told = ami_settings(run, {"HOTLINE_AMI_FROM_SANDBOX": "1"})
    assert (told.port, told.username, told.secret) == (6666, "u", "s")
    # the environment still wins over the state file
    assert ami_settings(run, {**env, "HOTLINE_AMI_FROM_SANDBOX": "yes"}).secret == "real"


def test_a_planted_or_open_state_file_is_refused(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run").ensure()
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_text('{"ami_port": 6666}')
    run.sandbox_state.symlink_to(elsewhere)
    with pytest.raises(RunDirError, match="refusing sandbox state"):
        ami_settings(run, {}, from_sandbox=True)
    run.sandbox_state.unlink()
    run.sandbox_state.write_text('{"ami_port": 6666}')
    os.chmod(run.sandbox_state, 0o644)
    with pytest.raises(RunDirError, match="not a 0600 file of ours"):
        ami_settings(run, {}, from_sandbox=True)
    os.chmod(run.path, 0o777)
    with pytest.raises(RunDirError, match="writable by group or others"):
        ami_settings(run, {}, from_sandbox=True)


def test_hotline_run_refuses_a_planted_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "run").symlink_to(victim)
    monkeypatch.setenv("HOTLINE_RUN_DIR", str(tmp_path / "run"))
    umask = os.umask(0o022)
    try:
        status = main(["run", "--config", str(Path(__file__).resolve().parents[2])])
    finally:
        assert os.umask(umask) == 0o077  # `hotline run` makes every file it creates private
    assert status == 1
    assert "symbolic link" in capsys.readouterr().err
    assert list(victim.iterdir()) == []


def test_write_private_is_0600_and_never_follows_a_link(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with write_private(tmp_path / "acd.json") as fd:
            os.write(fd, b"{}")
    finally:
        os.umask(old)
    assert mode(tmp_path / "acd.json") == 0o600
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / f".acd.json.{os.getpid()}.tmp").symlink_to(victim)
    with write_private(tmp_path / "acd.json") as fd:  # the stale name is removed, not followed
        os.write(fd, b"[]")
    assert victim.read_text() == "keep" and (tmp_path / "acd.json").read_text() == "[]"


def test_create_private_refuses_a_link(tmp_path: Path) -> None:
    (tmp_path / "db").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RunDirError):
        create_private(tmp_path / "db")
    assert not (tmp_path / "elsewhere").exists()


def test_callbacks_db_is_0600_from_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_connect = sqlite3.connect

    def connect(path: object, *args: object, **kwargs: object) -> sqlite3.Connection:
        seen.append(mode(Path(str(path))))  # the file exists, 0600, before SQLite opens it
        return real_connect(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", connect)
    old = os.umask(0)
    try:
        store = CallbackStore(tmp_path / "callbacks.db")
        store.add("1.1", "13800138000", "general", datetime(2024, 1, 1, tzinfo=UTC))
        store.close()
    finally:
        os.umask(old)
    assert seen == [0o600]
    assert mode(tmp_path / "callbacks.db") == 0o600
    assert all(mode(p) == 0o600 for p in tmp_path.glob("callbacks.db*"))
