"""The run directory: every file the controller and the CLI share, named in one place.

It holds the call records, the work orders, the callback requests (real numbers), the
control socket (which starts transfers) and, for the sandbox, the AMI secret.  So it is
never a fixed, guessable path in a world-writable directory: it is
``$HOTLINE_RUN_DIR``, else ``$XDG_RUNTIME_DIR/hotline12345``, else ``/run/hotline12345``
for root, else ``/tmp/hotline12345-UID``; and :meth:`RunDir.ensure` refuses it when it is
a symlink, owned by another user, or writable by the group or others (someone else
could have created it first and planted files or links in it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.core.environ import RUN_DIR_ENV, XDG_RUNTIME_DIR_ENV

APP_DIR_NAME = "hotline12345"
#: Where earlier versions kept everything; never used any more (anyone could create it).
LEGACY_RUN_DIR = Path("/tmp/hotline12345")


class RunDirError(RuntimeError):
    """The run directory (or a file in it) is not safe to use; the message says why."""


def default_run_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$HOTLINE_RUN_DIR``, else ``$XDG_RUNTIME_DIR/hotline12345``, else
    ``/run/hotline12345`` (root), else ``/tmp/hotline12345-UID`` (checked like the others)."""
    env = os.environ if env is None else env
    explicit = env.get(RUN_DIR_ENV)
    if explicit:
        return Path(explicit)
    runtime = env.get(XDG_RUNTIME_DIR_ENV)
    if runtime and Path(runtime).is_absolute():
        return Path(runtime) / APP_DIR_NAME
    if os.geteuid() == 0:
        return Path("/run") / APP_DIR_NAME
    return Path(f"/tmp/{APP_DIR_NAME}-{os.geteuid()}")


def check_private_dir(path: Path, what: str = "run directory", *, uid: int | None = None,
                      hint: str = "") -> os.stat_result:
    """``lstat`` of ``path`` when it is a real directory owned by ``uid`` (default: us) and
    not writable by group or others; else :class:`RunDirError` with the reason."""
    uid = os.geteuid() if uid is None else uid
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise RunDirError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise RunDirError(f"{what} {path} cannot be checked: {exc.strerror}") from None
    hint = f"; {hint}" if hint else ""
    if stat.S_ISLNK(info.st_mode):
        raise RunDirError(f"refusing {what} {path}: it is a symbolic link (someone may have "
                          f"planted it; remove it or set {RUN_DIR_ENV}){hint}")
    if not stat.S_ISDIR(info.st_mode):
        raise RunDirError(f"refusing {what} {path}: not a directory{hint}")
    if info.st_uid != uid:
        raise RunDirError(f"refusing {what} {path}: owned by uid {info.st_uid}, not {uid} "
                          f"(another user may have created it first; remove it or set "
                          f"{RUN_DIR_ENV}){hint}")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RunDirError(f"refusing {what} {path}: writable by group or others "
                          f"(mode {stat.S_IMODE(info.st_mode):04o}; chmod 0700 it){hint}")
    return info


def _check_parent(path: Path) -> None:
    """The parent must not let others swap ``path`` (sticky /tmp is fine: they can't)."""
    parent = path.parent
    try:
        info = os.stat(parent)
    except OSError as exc:
        raise RunDirError(f"parent of the run directory {parent} is not usable: "
                          f"{exc.strerror}") from None
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable_by_others and not info.st_mode & stat.S_ISVTX and info.st_uid != 0 \
            and info.st_uid != os.geteuid():
        raise RunDirError(f"refusing run directory {path}: its parent {parent} is writable "
                          "by others without the sticky bit")


@dataclass(frozen=True)
class RunDir:
    """Where the controller keeps its state: records, databases, sockets, snapshots."""

    path: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunDir:
        """``$HOTLINE_RUN_DIR``, else the per-user default (:func:`default_run_dir`)."""
        return cls(default_run_dir(env))

    def ensure(self, mode: int = 0o700) -> RunDir:
        """Create the directory (``mode``, default 0700) when missing, then check it:
        :class:`RunDirError` when it is a symlink, owned by another user, or writable by
        the group or others.  An existing directory's mode is not widened or narrowed."""
        _check_parent(self.path)
        if not os.path.lexists(self.path):
            self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            try:
                os.mkdir(self.path, mode)
            except FileExistsError:
                pass  # lost a race: whatever is there now is checked below
            else:
                os.chmod(self.path, mode)  # the umask may have narrowed it
        check_private_dir(self.path)
        return self

    def check(self) -> RunDir:
        """Like :meth:`ensure` for readers (the CLI): no creation, same refusals."""
        if os.path.lexists(self.path):
            check_private_dir(self.path)
        return self

    @property
    def calls_db(self) -> Path:
        """The call store (SQLite)."""
        return self.path / "calls.db"

    @property
    def legacy_journal(self) -> Path:
        """The JSON-lines journal of earlier versions, imported once into the call store."""
        return self.path / "calls.jsonl"

    @property
    def workorders_db(self) -> Path:
        """Work orders (SQLite)."""
        return self.path / "workorders.db"

    @property
    def callbacks_db(self) -> Path:
        """Callback requests (SQLite)."""
        return self.path / "callbacks.db"

    @property
    def ratings_db(self) -> Path:
        """Post-call ratings (好差评) and their follow-ups (SQLite, ivr/ratings)."""
        return self.path / "ratings.db"

    @property
    def acd_snapshot(self) -> Path:
        """The ACD snapshot ``hotline queue status`` reads."""
        return self.path / "acd.json"

    @property
    def control_socket(self) -> Path:
        """The control API's Unix socket."""
        return self.path / "control.sock"

    @property
    def sandbox_state(self) -> Path:
        """The sandbox Asterisk's state file (development only)."""
        return self.path / "sandbox.json"


def create_private(path: Path) -> None:
    """Create ``path`` as an empty 0600 file unless it exists (never through a symlink);
    an existing one must be a regular file owned by us."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
    except FileExistsError:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise RunDirError(f"refusing {path}: not a regular file of ours") from None
        return
    os.close(fd)


@contextlib.contextmanager
def write_private(path: Path) -> Iterator[int]:
    """A file descriptor to write ``path`` anew, atomically, 0600 from creation: a
    temporary file next to it is created exclusively (``O_EXCL|O_NOFOLLOW``, so a planted
    name or link is never written through) and renamed over ``path`` on success."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # ours from a crashed run (the directory is private)
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunDirError(f"refusing {tmp}: it is a symbolic link") from None
        raise
    try:
        yield fd
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
