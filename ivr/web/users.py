"""Who may log in: every roster agent (role ``agent``) and the configured supervisors
(role ``supervisor``), with passwords never kept in the repository:
``$HOTLINE_WEB_PASSWORD_<ID>`` when set, else generated once into ``web-users.json``
(0600) in the run directory, where an admin reads them to hand out."""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ivr.core.rundir import write_private

USERS_FILE = "web-users.json"
PASSWORD_ENV = "HOTLINE_WEB_PASSWORD_"


@dataclass(frozen=True)
class User:
    """Someone who may log in."""

    id: str
    name: str
    role: str  # "agent" or "supervisor"
    interface: str | None = None  # the agent's phone


class Users:
    """The users and their passwords."""

    def __init__(self, users: list[User], passwords: dict[str, str]) -> None:
        self.by_id = {u.id: u for u in users}
        self._passwords = passwords

    def check(self, user_id: str, password: str) -> User | None:
        """The user, when the password is right (compared in constant time)."""
        user = self.by_id.get(user_id)
        expected = self._passwords.get(user_id, "")
        ok = hmac.compare_digest(expected.encode(), password.encode())
        return user if user is not None and expected and ok else None


def load_users(users: list[User], run_dir: Path, env: dict[str, str] | None = None) -> Users:
    """Passwords from the environment, else from ``web-users.json`` (missing ones generated
    and the file rewritten, 0600)."""
    env = dict(os.environ) if env is None else env
    path = run_dir / USERS_FILE
    try:
        stored: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    changed = False
    passwords: dict[str, str] = {}
    for user in users:
        from_env = env.get(PASSWORD_ENV + user.id)
        if from_env:
            passwords[user.id] = from_env
            continue
        if not stored.get(user.id):
            stored[user.id] = secrets.token_urlsafe(12)
            changed = True
        passwords[user.id] = stored[user.id]
    if changed or not path.exists():
        data = json.dumps(stored, indent=1, sort_keys=True).encode("utf-8")
        with write_private(path) as fd:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
    return Users(users, passwords)
