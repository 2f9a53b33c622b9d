"""The AMI wire protocol, without I/O.

After a one-line banner (``Asterisk Call Manager/x.y``), every message is a block
of ``Key: Value`` lines ended by an empty line, with CRLF line ends. Keys may
repeat (``Output``, ``ChanVariable``), so a message keeps every pair in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAX_MESSAGE = 1 << 20


class AmiProtocolError(Exception):
    """The peer sent something that is not AMI."""


@dataclass(frozen=True)
class AmiBanner:
    """The greeting line Asterisk sends on connect."""

    text: str


@dataclass(frozen=True)
class AmiMessage:
    """A response or an event: ordered key/value pairs."""

    pairs: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str = "") -> str:
        """First value of ``key`` (case-insensitive)."""
        lowered = key.lower()
        for k, v in self.pairs:
            if k.lower() == lowered:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key."""
        lowered = key.lower()
        return [v for k, v in self.pairs if k.lower() == lowered]

    def __getitem__(self, key: str) -> str:
        value = self.get(key, "\0")
        if value == "\0":
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, "\0") != "\0"

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    @property
    def event(self) -> str | None:
        """The event name, or None for a response."""
        return self.get("Event") or None

    @property
    def action_id(self) -> str:
        """The ActionID this message answers or belongs to."""
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        """First value of each key, for logging and tests."""
        out: dict[str, str] = {}
        for k, v in self.pairs:
            out.setdefault(k, v)
        return out


AmiFrame = AmiBanner | AmiMessage


class AmiParser:
    """Turns the byte stream from Asterisk into :data:`AmiFrame` objects."""

    def __init__(self) -> None:
        self._buffer = b""
        self._banner_seen = False

    def feed(self, data: bytes) -> list[AmiFrame]:
        """Consume bytes; return the frames they complete."""
        self._buffer += data
        frames: list[AmiFrame] = []
        if not self._banner_seen and b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            text = line.rstrip(b"\r").decode("utf-8", errors="replace")
            if not text.startswith("Asterisk Call Manager"):
                raise AmiProtocolError(f"not an AMI banner: {text[:80]!r}")
            self._banner_seen = True
            frames.append(AmiBanner(text))
        if not self._banner_seen:
            return frames
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            block, self._buffer = self._buffer[:end], self._buffer[end + 4:]
            block = block.lstrip(b"\r\n")
            if block:
                frames.append(_parse_block(block))
        if len(self._buffer) > MAX_MESSAGE:
            raise AmiProtocolError("message larger than 1 MiB")
        return frames


def _parse_block(block: bytes) -> AmiMessage:
    pairs = []
    for raw in block.split(b"\r\n"):
        line = raw.decode("utf-8", errors="replace")
        key, sep, value = line.partition(":")
        if not sep:
            # Old 'Response: Follows' command output: keep it under 'Output'.
            pairs.append(("Output", line))
            continue
        pairs.append((key.strip(), value.strip()))
    return AmiMessage(tuple(pairs))


def encode_action(action: str, action_id: str, fields: dict[str, str] | None = None,
                  variables: dict[str, str] | None = None) -> bytes:
    """One AMI action block."""
    lines = [f"Action: {action}", f"ActionID: {action_id}"]
    for key, value in (fields or {}).items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"AMI field {key} may not contain line breaks")
        lines.append(f"{key}: {value}")
    for key, value in (variables or {}).items():
        lines.append(f"Variable: {key}={value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
