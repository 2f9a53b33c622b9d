"""Finding (or creating) the Asterisk the sandbox runs.

Preference: a distribution Asterisk at ``/usr/sbin/asterisk`` with version
>= 18; otherwise Debian sid's Asterisk in a chroot under the cache dir,
created once with debootstrap (about a minute and 500 MB) and reused.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hotline_sandbox.errors import SandboxError
from hotline_sandbox.layout import AsteriskPaths, InstallKind, chroot_paths, host_path, host_paths
from hotline_sandbox.settings import SandboxSettings

Progress = Callable[[str], None]

HOST_ASTERISK = Path("/usr/sbin/asterisk")
MIN_HOST_MAJOR = 18
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CHROOT_PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en")
_VERSION_RE = re.compile(r"Asterisk\s+(\d+)\.(\d+)(?:\.(\d+))?\S*")


@dataclass(frozen=True)
class AsteriskInstall:
    """An Asterisk the sandbox can run."""

    kind: InstallKind
    root: Path
    """The chroot, or ``/`` for the host's Asterisk."""
    version: str
    uid: int
    gid: int
    paths: AsteriskPaths

    def host_path(self, inner: str) -> Path:
        """Host path of a path as Asterisk sees it."""
        return host_path(self.root, inner) if self.kind == "chroot" else Path(inner)

    def command(self, *args: str) -> list[str]:
        """argv running the asterisk binary as the asterisk user."""
        return asterisk_argv(
            self.kind,
            self.root,
            self.uid,
            self.gid,
            self.paths.binary,
            self.paths.asterisk_conf,
            *args,
        )


def asterisk_argv(
    kind: str, root: Path, uid: int, gid: int, binary: str, asterisk_conf: str, *args: str
) -> list[str]:
    """argv running *binary* (``-C asterisk_conf``, *args*) as uid:gid, chrooted if a chroot."""
    argv = [binary, "-C", asterisk_conf, *args]
    if kind == "chroot":
        return ["chroot", f"--userspec={uid}:{gid}", str(root), *argv]
    if os.geteuid() == 0 and uid != 0:
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", *argv]
    return argv


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` from ``asterisk -V`` output."""
    match = _VERSION_RE.search(text)
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _version_output(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"{' '.join(argv)} failed: {exc}") from None
    return (result.stdout + result.stderr).strip()


def host_asterisk_version() -> str | None:
    """Version string of ``/usr/sbin/asterisk`` when it is >= 18, else ``None``."""
    if not HOST_ASTERISK.exists():
        return None
    output = _version_output([str(HOST_ASTERISK), "-V"])
    version = parse_version(output)
    if version is None or version[0] < MIN_HOST_MAJOR:
        return None
    return output.removeprefix("Asterisk ").strip()


def _passwd_entry(passwd: Path, user: str) -> tuple[int, int] | None:
    try:
        lines = passwd.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == user:
            return int(fields[2]), int(fields[3])
    return None


def _module_dir(root: Path) -> str:
    """The module directory holding chan_pjsip.so (as seen from *root*)."""
    candidates = [
        *sorted(root.glob("usr/lib/*/asterisk/modules")),
        root / "usr/lib/asterisk/modules",
        root / "usr/lib64/asterisk/modules",
    ]
    for candidate in candidates:
        if (candidate / "chan_pjsip.so").exists():
            return "/" + str(candidate.relative_to(root))
    raise SandboxError(f"no Asterisk module directory with chan_pjsip.so under {root}")


def chroot_install(root: Path) -> AsteriskInstall:
    """Describe the Asterisk inside an existing chroot."""
    ids = _passwd_entry(root / "etc/passwd", "asterisk")
    if ids is None:
        raise SandboxError(f"no asterisk user in {root}/etc/passwd (broken chroot?)")
    output = _version_output(["chroot", str(root), "/usr/sbin/asterisk", "-V"])
    if parse_version(output) is None:
        raise SandboxError(f"cannot run Asterisk in {root}: {output}")
    return AsteriskInstall(
        kind="chroot",
        root=root,
        version=output.removeprefix("Asterisk ").strip(),
        uid=ids[0],
        gid=ids[1],
        paths=chroot_paths(_module_dir(root)),
    )


def host_install(version: str, run_dir: Path) -> AsteriskInstall:
    """Describe the host's Asterisk, laid out under the run dir."""
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() == 0:  # only root can switch to the distribution's asterisk user
        try:
            entry = pwd.getpwnam("asterisk")
            uid, gid = entry.pw_uid, entry.pw_gid
        except KeyError:
            pass  # no such user: run as ourselves
    return AsteriskInstall(
        kind="host",
        root=Path("/"),
        version=version,
        uid=uid,
        gid=gid,
        paths=host_paths(run_dir / "asterisk", _module_dir(Path("/"))),
    )


def ensure_debootstrap(progress: Progress) -> str:
    """Path of ``debootstrap``, installing it with apt-get when missing."""
    found = shutil.which("debootstrap")
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise SandboxError("debootstrap is missing and there is no apt-get to install it")
    progress("installing debootstrap with apt-get ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "debootstrap"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise SandboxError(f"{' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    found = shutil.which("debootstrap")
    if not found:
        raise SandboxError("apt-get installed debootstrap but it is not on PATH")
    return found


def create_chroot(root: Path, progress: Progress) -> None:
    """debootstrap Debian sid with Asterisk into ``ROOT.tmp``, then rename to *root*."""
    if os.geteuid() != 0:
        raise SandboxError("creating the Asterisk chroot needs root (debootstrap, mount, chroot)")
    debootstrap = ensure_debootstrap(progress)
    tmp = root.with_name(root.name + ".tmp")
    if tmp.exists():
        progress(f"removing incomplete {tmp}")
        shutil.rmtree(tmp)
    root.parent.mkdir(parents=True, exist_ok=True)
    log_path = root.with_name(root.name + ".debootstrap.log")
    argv = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(CHROOT_PACKAGES)}",
        "sid",
        str(tmp),
        DEBIAN_MIRROR,
    ]
    progress(f"creating the Asterisk chroot (about a minute): {' '.join(argv)}")
    progress(f"debootstrap log: {log_path}")
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith("I: ") and any(
                word in line
                for word in (
                    "Retrieving Release",
                    "Resolving",
                    "Checking",
                    "Installing",
                    "Base system",
                )
            ):
                progress(line.strip())
        code = proc.wait()
    if code != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
        raise SandboxError(f"debootstrap failed (exit {code}); last lines:\n" + "\n".join(tail))
    if not (tmp / "usr/sbin/asterisk").exists():
        raise SandboxError(f"debootstrap finished but {tmp}/usr/sbin/asterisk is missing")
    os.replace(tmp, root)
    progress(f"chroot ready: {root}")


def locate_asterisk(settings: SandboxSettings, progress: Progress) -> AsteriskInstall:
    """The Asterisk to use, per ``settings.asterisk_mode`` (creating the chroot if needed)."""
    if settings.asterisk_mode in ("auto", "host"):
        version = host_asterisk_version()
        if version is not None:
            return host_install(version, settings.run_dir)
        if settings.asterisk_mode == "host":
            raise SandboxError(
                f"HOTLINE_ASTERISK=host but {HOST_ASTERISK} is missing or older than 18"
            )
    root = settings.chroot_dir
    if not (root / "usr/sbin/asterisk").exists():
        create_chroot(root, progress)
    return chroot_install(root)
