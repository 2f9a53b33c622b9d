"""Public API of the sandbox, used by the CLI and the integration tests.

>>> state = up()                      # doctest: +SKIP
>>> state.ami_address, state.ami_user  # doctest: +SKIP
>>> asterisk_cli("pjsip show endpoints")  # doctest: +SKIP
>>> restart_asterisk()                # doctest: +SKIP
>>> down()                            # doctest: +SKIP

Every function takes optional :class:`SandboxSettings` (default: from the
environment) and finds the running sandbox through the state file in the
run dir, so separate processes (CLI, controller, tests) can share it.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hotline_sandbox import procs, runner
from hotline_sandbox.errors import SandboxError
from hotline_sandbox.locate import AsteriskInstall, chroot_install, host_install, locate_asterisk
from hotline_sandbox.render import (
    check_outside_repo,
    differing_files,
    placeholder_values,
    render_templates,
    write_config_dir,
)
from hotline_sandbox.settings import SandboxSettings
from hotline_sandbox.state import SandboxState, load_state, remove_state, save_state
from ivr.core.rundir import RunDir, RunDirError

__all__ = [
    "SandboxError",
    "SandboxSettings",
    "SandboxState",
    "asterisk_cli",
    "down",
    "read_state",
    "restart_asterisk",
    "status",
    "up",
]

Progress = Callable[[str], None]


def _stderr_progress(message: str) -> None:
    print(f"[sandbox] {message}", file=sys.stderr, flush=True)


def _settings(settings: SandboxSettings | None) -> SandboxSettings:
    return SandboxSettings.from_env() if settings is None else settings


def read_state(settings: SandboxSettings | None = None) -> SandboxState | None:
    """The recorded state, running or not (``None`` without a state file); a run dir that
    is a link, someone else's or writable by others is a :class:`SandboxError`."""
    settings = _settings(settings)
    try:
        RunDir(settings.run_dir).check()
    except RunDirError as exc:
        raise SandboxError(str(exc)) from None
    return load_state(settings.state_path)


def _is_running(state: SandboxState) -> bool:
    return procs.is_running(state.pid, state.pid_start_time)


def status(settings: SandboxSettings | None = None) -> SandboxState | None:
    """The running sandbox, or ``None`` when none runs (a stale state file counts as none)."""
    state = read_state(settings)
    if state is None or not _is_running(state):
        return None
    return state


def _recordings_dir(settings: SandboxSettings) -> Path:
    if settings.recordings_dir.is_dir():
        return settings.recordings_dir.resolve()
    empty = settings.run_dir / "no-recordings"
    empty.mkdir(parents=True, exist_ok=True)
    return empty


def _new_state(
    settings: SandboxSettings,
    install: AsteriskInstall,
    secret: str,
    recordings: Path,
    made: list[str],
) -> SandboxState:
    return SandboxState(
        pid=0,
        pid_start_time=0,
        kind=install.kind,
        root=str(install.root),
        asterisk_version=install.version,
        uid=install.uid,
        gid=install.gid,
        sip_host="127.0.0.1",
        sip_port=settings.sip_port,
        ami_host="127.0.0.1",
        ami_port=settings.ami_port,
        ami_user=settings.ami_user,
        ami_secret=secret,
        agi_url=settings.agi_url,
        fallback_dial=settings.fallback_dial,
        agent_dial=settings.agent_dial,
        config_dir=str(runner.config_dir(install)),
        asterisk_conf=install.paths.asterisk_conf,
        log_path=str(settings.run_dir / "asterisk.log"),
        asterisk_log=str(runner.full_log_path(install)),
        sounds_dir=install.paths.sounds_dir,
        recordings_dir=str(recordings),
        run_dir=str(settings.run_dir),
        state_path=str(settings.state_path),
        started_at=0.0,
        rtp_start=settings.rtp_start,
        rtp_end=settings.rtp_end,
        asterisk_binary=install.paths.binary,
        peer_ports=settings.peer_ports(),
        mounts=made,
    )


def _launch(
    state: SandboxState, install: AsteriskInstall, settings: SandboxSettings, progress: Progress
) -> SandboxState:
    """Start Asterisk for *state*, record it, wait for FullyBooted."""
    runner.check_ports_free(state.sip_port, state.ami_port)
    started_at = time.time()
    pid, pid_start = runner.start(install, Path(state.log_path))
    state = state.replace(pid=pid, pid_start_time=pid_start, started_at=started_at)
    save_state(settings.state_path, state)  # before waiting: `down` can clean up a failed boot
    progress(f"Asterisk {install.version} started (pid {pid}); waiting for FullyBooted ...")
    waited = runner.wait_booted(state, settings.boot_timeout)
    progress(f"FullyBooted after {waited:.1f} s")
    return state


def up(settings: SandboxSettings | None = None, progress: Progress | None = None) -> SandboxState:
    """Start the sandbox (or return the running one) and wait until Asterisk is fully booted."""
    settings = _settings(settings)
    progress = progress or _stderr_progress
    settings.validate()
    check_outside_repo(settings.run_dir, "the sandbox run dir")
    runner.secure_run_dir(settings.run_dir)  # before anything is read from it or written to it
    existing = load_state(settings.state_path)
    if existing is not None and _is_running(existing):
        stale = _stale(existing, settings)
        if stale is None:
            progress(f"already running (pid {existing.pid})")
            return existing
        # another checkout's or an older sandbox: its dialplan is not this one's
        progress(f"the running sandbox (pid {existing.pid}) {stale}; restarting it from "
                 f"{settings.dialplans_dir}")
        down(settings, progress=lambda _message: None)
        existing = load_state(settings.state_path)
    secret = (
        settings.ami_secret
        or (existing.ami_secret if existing else None)
        or secrets.token_urlsafe(24)
    )
    if existing is not None:
        progress("cleaning up after a sandbox that is no longer running")
        _teardown(existing)
    t0 = time.monotonic()
    install = locate_asterisk(settings, progress)
    recordings = _recordings_dir(settings)
    values = placeholder_values(settings, install.paths, secret)
    rendered = render_templates(settings.dialplans_dir, values)
    started = False
    try:
        if install.kind == "chroot" and not procs.processes_rooted_at(install.root):
            runner.unmount_chroot(install.root)  # leftovers of a lost run (e.g. old recordings)
        made = runner.prepare(install, recordings, settings.run_dir)
        store = runner.prepare_recording_store(install, recording_store(settings))
        made = [*made, store] if store else made
        write_config_dir(runner.config_dir(install), rendered, gid=install.gid)
        state = _new_state(settings, install, secret, recordings, made)
        runner.rotate_logs(install, Path(state.log_path))
        state = _launch(state, install, settings, progress)
        started = True
    finally:
        if not started:  # an error or Ctrl-C half way: leave nothing mounted or running
            progress("start-up failed; tearing down")
            down(settings, progress=lambda _message: None)
    progress(
        f"sandbox up in {time.monotonic() - t0:.1f} s: AMI {state.ami_host}:{state.ami_port}, "
        f"SIP udp {state.sip_host}:{state.sip_port}"
    )
    return state


def _stale(state: SandboxState, settings: SandboxSettings) -> str | None:
    """Why the running sandbox is not the one these settings would start, or None."""
    recordings = str(_recordings_dir(settings))
    if state.recordings_dir != recordings:
        return f"mounts other prompts ({state.recordings_dir}, not {recordings})"
    install = _install_from_state(state)
    rendered = render_templates(settings.dialplans_dir,
                                placeholder_values(settings, install.paths,
                                                   settings.ami_secret or state.ami_secret))
    differ = differing_files(runner.config_dir(install), rendered)
    if differ:
        return f"was started from other templates ({', '.join(differ[:3])} differ)"
    return None


def recording_store(settings: SandboxSettings) -> str:
    """The call-recording store of the configuration the sandbox renders (docs/quality.md)."""
    from ivr.config.engine import load_engine_config
    from ivr.config.errors import ConfigError

    try:
        return load_engine_config(settings.config_dir).rules.recording.store
    except ConfigError as exc:
        raise SandboxError(f"configuration in {settings.config_dir} is invalid:\n{exc}") from exc


def _teardown(state: SandboxState) -> None:
    runner.stop_process(state)
    if state.kind == "chroot":
        runner.unmount_chroot(Path(state.root))


def down(settings: SandboxSettings | None = None, progress: Progress | None = None) -> bool:
    """Stop Asterisk, unmount everything, remove the state file.

    Also cleans up a chroot sandbox whose state file was lost.  Returns
    whether there was anything to stop or unmount.
    """
    settings = _settings(settings)
    progress = progress or _stderr_progress
    state = load_state(settings.state_path)
    did = False
    if state is not None:
        progress(f"stopping Asterisk (pid {state.pid})")
        _teardown(state)
        did = True
    root = settings.chroot_dir
    if root.is_dir() and (state is None or Path(state.root) != root):
        killed = runner.kill_rooted_at(root)
        unmounted = runner.unmount_chroot(root)
        did = did or bool(killed or unmounted)
    remove_state(settings.state_path)
    progress("sandbox down" if did else "no sandbox was running")
    return did


def restart_asterisk(
    settings: SandboxSettings | None = None, progress: Progress | None = None
) -> SandboxState:
    """Restart only the Asterisk process (same config, secret, ports and mounts).

    This is what a real Asterisk crash/restart looks like to the controller:
    AMI and FastAGI connections drop and come back with in-memory state lost.
    """
    settings = _settings(settings)
    progress = progress or _stderr_progress
    state = read_state(settings)
    if state is None:
        raise SandboxError("no sandbox to restart; run `sandbox up` first")
    t0 = time.monotonic()
    runner.stop_process(state)
    progress(f"Asterisk (pid {state.pid}) stopped")
    install = _install_from_state(state)
    runner.prepare(install, Path(state.recordings_dir), settings.run_dir)  # re-mounts what was lost
    runner.prepare_recording_store(install, recording_store(settings))
    new_state = _launch(state, install, settings, progress)
    progress(f"Asterisk restarted in {time.monotonic() - t0:.1f} s")
    return new_state


def _install_from_state(state: SandboxState) -> AsteriskInstall:
    if state.kind == "chroot":
        return chroot_install(Path(state.root))
    return host_install(state.asterisk_version, Path(state.run_dir))


def asterisk_cli(
    command: str, settings: SandboxSettings | None = None, timeout: float = 30.0
) -> str:
    """Run ``asterisk -rx COMMAND`` against the running sandbox; its output."""
    state = status(settings)
    if state is None:
        raise SandboxError("no sandbox is running; run `sandbox up` first")
    return runner.rx(state, command, timeout=timeout)
