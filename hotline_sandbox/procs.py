"""Process helpers based on ``/proc`` (Linux only)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def start_time(pid: int) -> int | None:
    """Start time of *pid* in clock ticks since boot, or ``None`` if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # comm may hold spaces and parentheses: fields start after the last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    # fields[0] is field 3 (state); start time is field 22
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def reap(pid: int) -> None:
    """Collect *pid* if it is our exited child (avoids lingering zombies)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(pid: int, expected_start: int | None = None) -> bool:
    """Whether *pid* is alive (not a zombie) and, if given, started at *expected_start*."""
    reap(pid)
    started = start_time(pid)
    if started is None:
        return False
    return expected_start is None or started == expected_start


def wait_gone(pid: int, expected_start: int | None, timeout: float) -> bool:
    """Wait up to *timeout* s for *pid* to exit; ``True`` once it has."""
    deadline = time.monotonic() + timeout
    while is_running(pid, expected_start):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def terminate(pid: int, expected_start: int | None, grace: float = 5.0) -> bool:
    """SIGTERM, then SIGKILL after *grace* s.  ``True`` when the process is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not is_running(pid, expected_start):
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if wait_gone(pid, expected_start, wait):
            return True
    return not is_running(pid, expected_start)


def processes_rooted_at(root: Path) -> list[int]:
    """Pids whose root directory (``/proc/PID/root``) is *root*."""
    target = str(root.resolve())
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "root") == target:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def command_name(pid: int) -> str:
    """``/proc/PID/comm`` (empty when gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return ""
