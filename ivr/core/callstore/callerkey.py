"""Linking the calls of one caller without storing the number: a keyed hash.

``caller_key = HMAC-SHA256(secret, number)`` (hex, 32 characters), the secret 32 random
bytes generated once into ``calls.key`` beside the database (0600, never in the
repository).  Without the secret a key cannot be turned back into a number by trying
every phone number; a new secret (the file deleted) simply starts new links.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from ivr.core.rundir import write_private

log = logging.getLogger(__name__)

SECRET_BYTES = 32
KEY_CHARS = 32


def secret_path(db_path: Path) -> Path:
    """Where the secret for the store at ``db_path`` lives: ``calls.key`` beside ``calls.db``."""
    return db_path.with_suffix(".key")


def load_or_create_secret(path: Path) -> bytes:
    """The secret in ``path``; generated (0600, atomically) when missing or too short."""
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        secret = b""
    if len(secret) >= SECRET_BYTES:
        return secret
    secret = secrets.token_bytes(SECRET_BYTES)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with write_private(path) as fd:
        os.write(fd, secret)
    log.info("call store: new caller-link secret in %s", path)
    return secret


class CallerKeyer:
    """Turns a caller number into its key (pure once the secret is loaded)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __call__(self, number: str) -> str:
        digits = "".join(ch for ch in number if ch.isdigit()) or number.strip()
        mac = hmac.new(self._secret, digits.encode(), hashlib.sha256)
        return mac.hexdigest()[:KEY_CHARS]
