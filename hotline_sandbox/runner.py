"""Preparing the file system for Asterisk, and starting and stopping it."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
from pathlib import Path

from hotline_sandbox import ami, mounts, procs
from hotline_sandbox.errors import SandboxError
from hotline_sandbox.locate import AsteriskInstall, asterisk_argv
from hotline_sandbox.state import SandboxState
from ivr.core.rundir import RunDir, RunDirError

#: Where the repo's recordings appear, below the sounds root: ``Playback(hotline/x)``.
SOUNDS_SUBDIR = "hotline"
#: Asterisk's own log file (logger.conf ``full``), below astlogdir.
FULL_LOG = "full"
#: Environment of the Asterisk process: nothing from the caller leaks in.
_ASTERISK_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/"}


def _own(path: Path, uid: int, gid: int, mode: int) -> None:
    """Create directory *path* (and parents) owned by uid:gid with *mode*.

    Never through a symbolic link: the sandbox runs as root, and a link planted where a
    directory is expected would have it chown and prune whatever the link points to.
    """
    path.mkdir(parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise SandboxError(f"refusing {path}: expected a directory, found "
                           f"{'a symbolic link' if stat.S_ISLNK(info.st_mode) else 'a file'}")
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.chown(path, uid, gid, follow_symlinks=False)
    if info.st_mode & 0o7777 != mode:
        os.chmod(path, mode)


def secure_run_dir(run_dir: Path) -> None:
    """Create the run dir (0700) or check it: refused when it is a symbolic link, owned by
    another user or writable by others (someone may have created it first)."""
    try:
        RunDir(run_dir).ensure()
    except RunDirError as exc:
        raise SandboxError(str(exc)) from None


def config_dir(install: AsteriskInstall) -> Path:
    """Host path of the directory Asterisk reads its configuration from."""
    return install.host_path(install.paths.etc_dir)


def sounds_link_path(install: AsteriskInstall) -> Path:
    """Host path where the recordings appear as ``<sounds>/hotline``."""
    return install.host_path(f"{install.paths.sounds_dir}/{SOUNDS_SUBDIR}")


def full_log_path(install: AsteriskInstall) -> Path:
    """Host path of Asterisk's ``full`` log."""
    return install.host_path(f"{install.paths.log_dir}/{FULL_LOG}")


def _prepare_etc(install: AsteriskInstall) -> None:
    etc = config_dir(install)
    if install.kind == "chroot":
        # Keep Debian's sample configs out of the way (some do DNS look-ups at
        # start-up), once; the sandbox then owns /etc/asterisk entirely.
        dist = etc.with_name("asterisk.dist")
        if etc.exists() and not dist.exists():
            os.rename(etc, dist)
    # root-owned and group-readable: root can write it, asterisk can read it,
    # nobody else sees the AMI secret
    _own(etc, os.getuid(), install.gid, 0o750)


def _prepare_writable(install: AsteriskInstall) -> None:
    for inner in install.paths.writable_dirs():
        _own(install.host_path(inner), install.uid, install.gid, 0o750)
    # root-owned, group-writable: Asterisk writes its logs through the group,
    # and root (which may lack CAP_DAC_OVERRIDE) can still rotate and read them
    _own(install.host_path(install.paths.log_dir), os.getuid(), install.gid, 0o775)


def _prepare_host_data(install: AsteriskInstall, recordings: Path) -> None:
    """A private astdatadir of symlinks, with ``sounds/hotline`` -> recordings."""
    source = next(
        (
            Path(p)
            for p in ("/usr/share/asterisk", "/var/lib/asterisk")
            if Path(p, "sounds").is_dir()
        ),
        None,
    )
    if source is None:
        raise SandboxError("host Asterisk has no sounds directory under /usr/share or /var/lib")
    data = Path(install.paths.data_dir)
    sounds = data / "sounds"
    sounds.mkdir(parents=True, exist_ok=True)
    links = {entry.name: entry for entry in source.iterdir() if entry.name != "sounds"}
    sound_links = {entry.name: entry for entry in (source / "sounds").iterdir()}
    sound_links[SOUNDS_SUBDIR] = recordings
    for directory, wanted in ((data, links), (sounds, sound_links)):
        for name, target in wanted.items():
            link = directory / name
            if link.is_symlink() and Path(os.readlink(link)) == target:
                continue
            if link.is_symlink() or link.is_file():
                link.unlink()
            link.symlink_to(target)


def prepare(install: AsteriskInstall, recordings: Path, run_dir: Path) -> list[str]:
    """Directories, mounts and links Asterisk needs; returns the mounts made.

    For a chroot: ``proc`` and ``/dev`` are mounted into it and *recordings*
    is bind-mounted read-only at ``<sounds>/hotline``.  For a host Asterisk
    everything lives under the run dir and nothing is mounted.
    """
    secure_run_dir(run_dir)
    _prepare_etc(install)
    _prepare_writable(install)
    if install.kind == "host":
        # the asterisk user must reach its directories below the run dir: it may
        # traverse it, never list or write it (everything else in it is 0600)
        os.chmod(run_dir, 0o711)
        _own(Path(install.paths.etc_dir).parent, os.getuid(), install.gid, 0o755)
        _prepare_host_data(install, recordings)
        return []
    root = install.root
    points = [root / "proc", root / "dev", sounds_link_path(install)]
    mounts.mount_proc(points[0])
    mounts.bind(Path("/dev"), points[1])
    mounts.bind(recordings, points[2], read_only=True)
    return [str(p) for p in points]


def check_ports_free(sip_port: int, ami_port: int) -> None:
    """Fail early (with a hint) when the SIP or AMI port is taken on 127.0.0.1."""
    checks = (
        (socket.SOCK_DGRAM, sip_port, "SIP (udp)"),
        (socket.SOCK_STREAM, ami_port, "AMI (tcp)"),
    )
    for kind, port, what in checks:
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                raise SandboxError(
                    f"{what} port 127.0.0.1:{port} is already in use "
                    "(another Asterisk, a stale sandbox or SIPp?); try `sandbox down`"
                ) from None


def rotate_logs(install: AsteriskInstall, log_path: Path) -> None:
    """Start a fresh ``full`` log and console log for a new sandbox."""
    for path in (full_log_path(install), log_path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def start(install: AsteriskInstall, log_path: Path) -> tuple[int, int]:
    """Start ``asterisk -f`` detached (own session), console output to *log_path*.

    Returns ``(pid, start_time)``.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # A throw-away shell starts Asterisk in the background and reports its pid:
    # Asterisk is then nobody's child here (no zombie, no ResourceWarning, it
    # outlives the CLI) and runs in its own session, away from our terminal.
    launcher = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'
    result = subprocess.run(
        ["sh", "-c", launcher, "sh", str(log_path), *install.command("-f", "-n")],
        capture_output=True,
        text=True,
        cwd="/",
        env=_ASTERISK_ENV,
        start_new_session=True,
        umask=0o022,
        timeout=10,
        check=False,
    )
    try:
        pid = int(result.stdout.strip())
    except ValueError:
        raise SandboxError(
            f"could not start Asterisk: {result.stderr.strip() or result.stdout!r}"
        ) from None
    started = procs.start_time(pid)
    if started is None:
        raise SandboxError(f"Asterisk exited at once; see {log_path}")
    return pid, started


def wait_booted(state: SandboxState, timeout: float) -> float:
    """Wait for ``FullyBooted``; on failure the error carries the logs' tails."""
    try:
        return ami.wait_fully_booted(
            state.ami_host,
            state.ami_port,
            state.ami_user,
            state.ami_secret,
            timeout,
            alive=lambda: procs.is_running(state.pid, state.pid_start_time),
        )
    except SandboxError as exc:
        raise SandboxError(f"{exc}\n{log_tails(state)}") from None


def log_tails(state: SandboxState, lines: int = 25) -> str:
    """The last lines of Asterisk's console output and ``full`` log."""
    parts: list[str] = []
    for path in (state.log_path, state.asterisk_log):
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            parts.append(f"--- {path}: {exc.strerror}")
            continue
        tail = text.splitlines()[-lines:]
        parts.append(f"--- last {len(tail)} lines of {path}:\n" + "\n".join(tail))
    return "\n".join(parts)


def stop_process(state: SandboxState, timeout: float = 5.0) -> None:
    """Stop Asterisk: ``asterisk -rx "core stop now"``, then SIGTERM, then SIGKILL."""
    if procs.is_running(state.pid, state.pid_start_time):
        # the console, not AMI: the AMI user has no `command` privilege
        with contextlib.suppress(OSError, SandboxError):
            rx(state, "core stop now", timeout=3.0)
        if not procs.wait_gone(state.pid, state.pid_start_time, timeout):
            procs.terminate(state.pid, state.pid_start_time)
    if state.kind == "chroot":
        kill_rooted_at(Path(state.root))


def kill_rooted_at(root: Path) -> list[int]:
    """Terminate asterisk processes whose root is the chroot *root* (stale runs)."""
    if root.resolve() == Path("/"):
        raise SandboxError("refusing to kill processes rooted at /")
    killed: list[int] = []
    for pid in procs.processes_rooted_at(root):
        if procs.command_name(pid) == "asterisk":
            procs.terminate(pid, procs.start_time(pid), grace=3.0)
            killed.append(pid)
    return killed


def prepare_recording_store(install: AsteriskInstall, store: str) -> str | None:
    """The call-recording store (routing_rules.yaml ``recording.store``), writable by Asterisk.

    Ownership model: the directory belongs to the asterisk user (0700), which writes the
    recordings (MixMonitor, one date directory per day) and reads nothing else there; the
    controller runs as root here (or as the asterisk user in production) to finalise
    (0600), expire and export them.  A chroot Asterisk sees it at the same absolute path,
    bind-mounted read-write, so the path in the decision is the same for both.  Returns
    the mount point made (chroot), else None.
    """
    host = Path(store)
    _own(host, install.uid, install.gid, 0o700)
    if install.kind != "chroot":
        return None
    point = install.host_path(store)
    if point.resolve() == host.resolve():
        return None
    _own(point, install.uid, install.gid, 0o700)
    mounts.bind(host, point)
    return str(point)


def unmount_chroot(root: Path) -> list[str]:
    """Unmount everything below the chroot *root*."""
    if root.resolve() == Path("/"):
        raise SandboxError("refusing to unmount everything below /")
    return mounts.unmount_all_under(root)


def rx(state: SandboxState, command: str, timeout: float = 30.0) -> str:
    """``asterisk -rx COMMAND`` as the asterisk user (inside the chroot)."""
    argv = asterisk_argv(
        state.kind,
        Path(state.root),
        state.uid,
        state.gid,
        state.asterisk_binary,
        state.asterisk_conf,
        "-rx",
        command,
    )
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SandboxError(f"asterisk -rx {command!r} timed out after {timeout:.0f} s") from None
    if result.returncode != 0:
        raise SandboxError(
            f"asterisk -rx {command!r} failed (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result.stdout
