"""Mounting and unmounting the chroot's ``/proc``, ``/dev`` and sounds."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from hotline_sandbox.errors import SandboxError


def _unescape(field: str) -> str:
    r"""Decode the octal escapes of /proc/mounts (``\040`` is a space)."""
    out: list[str] = []
    i = 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_table() -> list[tuple[str, str, str]]:
    """``(source, mount point, options)`` of every mount, in mount order."""
    table: list[tuple[str, str, str]] = []
    with open("/proc/mounts", encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 4:
                table.append((_unescape(parts[0]), _unescape(parts[1]), parts[3]))
    return table


def is_mounted(point: Path) -> bool:
    """Whether something is mounted at *point*."""
    target = str(point)
    return any(mp == target for _, mp, _ in mount_table())


def mounts_under(root: Path) -> list[str]:
    """Mount points strictly below *root*, deepest (latest) first."""
    prefix = str(root.resolve()).rstrip("/") + "/"
    points = [mp for _, mp, _ in mount_table() if mp.startswith(prefix)]
    # unmount in reverse mount order, and children before parents
    return sorted(dict.fromkeys(reversed(points)), key=lambda p: -p.count("/"))


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def mount_proc(point: Path) -> bool:
    """Mount a proc filesystem at *point* unless one is there; ``True`` if mounted now."""
    if is_mounted(point):
        return False
    point.mkdir(parents=True, exist_ok=True)
    result = _run(["mount", "-t", "proc", "proc", str(point)])
    if result.returncode != 0:
        raise SandboxError(f"mount proc at {point} failed: {result.stderr.strip()}")
    return True


def bind(source: Path, point: Path, *, read_only: bool = False) -> bool:
    """Bind-mount *source* at *point* unless mounted; ``True`` if mounted now."""
    if is_mounted(point):
        return False
    point.mkdir(parents=True, exist_ok=True)
    result = _run(["mount", "--bind", str(source), str(point)])
    if result.returncode != 0:
        raise SandboxError(f"bind {source} at {point} failed: {result.stderr.strip()}")
    if read_only:
        result = _run(["mount", "-o", "remount,bind,ro", str(point)])
        if result.returncode != 0:
            unmount(point)
            raise SandboxError(f"remount {point} read-only failed: {result.stderr.strip()}")
    return True


def unmount(point: Path, attempts: int = 5) -> None:
    """Unmount *point*; retry while busy, lazily unmount as the last resort."""
    for _ in range(attempts):
        if not is_mounted(point):
            return
        if _run(["umount", str(point)]).returncode == 0:
            continue
        time.sleep(0.2)
    if is_mounted(point):
        result = _run(["umount", "-l", str(point)])
        if result.returncode != 0 and is_mounted(point):
            raise SandboxError(f"cannot unmount {point}: {result.stderr.strip()}")


def unmount_all_under(root: Path) -> list[str]:
    """Unmount everything below *root*; the mount points that were unmounted."""
    done: list[str] = []
    for _ in range(3):  # stacked mounts need another pass
        points = mounts_under(root)
        if not points:
            break
        for point in points:
            unmount(Path(point))
            done.append(point)
    leftover = mounts_under(root)
    if leftover:
        raise SandboxError(f"still mounted under {root}: {', '.join(leftover)}")
    return done
