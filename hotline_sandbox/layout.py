"""Where an Asterisk installation keeps things, as Asterisk itself sees them.

A chroot Asterisk sees Debian's standard paths inside the chroot; a
distribution Asterisk on the host is pointed at directories under the sandbox
run directory, so the sandbox never touches the host's ``/etc/asterisk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

InstallKind = Literal["chroot", "host"]


@dataclass(frozen=True)
class AsteriskPaths:
    """The ``[directories]`` of asterisk.conf (paths as Asterisk sees them)."""

    etc_dir: str
    mod_dir: str
    varlib_dir: str
    db_dir: str
    data_dir: str
    spool_dir: str
    run_dir: str
    log_dir: str
    cache_dir: str
    sbin_dir: str = "/usr/sbin"

    @property
    def sounds_dir(self) -> str:
        """The sounds root: ``<astdatadir>/sounds``."""
        return f"{self.data_dir}/sounds"

    @property
    def asterisk_conf(self) -> str:
        """The asterisk.conf Asterisk is started with (``-C``)."""
        return f"{self.etc_dir}/asterisk.conf"

    @property
    def binary(self) -> str:
        """The asterisk executable."""
        return f"{self.sbin_dir}/asterisk"

    def writable_dirs(self) -> list[str]:
        """Directories the asterisk user must be able to write."""
        return [
            self.varlib_dir,
            self.db_dir,
            self.spool_dir,
            self.run_dir,
            self.log_dir,
            self.cache_dir,
        ]


def chroot_paths(mod_dir: str) -> AsteriskPaths:
    """Debian's layout (as in the package's own asterisk.conf)."""
    return AsteriskPaths(
        etc_dir="/etc/asterisk",
        mod_dir=mod_dir,
        varlib_dir="/var/lib/asterisk",
        db_dir="/var/lib/asterisk",
        data_dir="/usr/share/asterisk",
        spool_dir="/var/spool/asterisk",
        run_dir="/run/asterisk",
        log_dir="/var/log/asterisk",
        cache_dir="/var/cache/asterisk",
    )


def host_paths(base: Path, mod_dir: str, sbin_dir: str = "/usr/sbin") -> AsteriskPaths:
    """A private layout under *base* (the run dir) for a distribution Asterisk."""
    return AsteriskPaths(
        etc_dir=str(base / "etc"),
        mod_dir=mod_dir,
        varlib_dir=str(base / "lib"),
        db_dir=str(base / "lib"),
        data_dir=str(base / "data"),
        spool_dir=str(base / "spool"),
        run_dir=str(base / "run"),
        log_dir=str(base / "log"),
        cache_dir=str(base / "cache"),
        sbin_dir=sbin_dir,
    )


def host_path(root: Path, inner: str) -> Path:
    """The host path of *inner*, a path as seen by a process chrooted at *root*."""
    relative = PurePosixPath(inner).relative_to("/")
    return root / relative
