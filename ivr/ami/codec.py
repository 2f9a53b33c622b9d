"""The AMI wire protocol, without I/O.

After a one-line banner (``Asterisk Call Manager/x.y``), every message is a block
of ``Key: Value`` lines ended by an empty line, with CRLF line ends. Keys may
repeat (``Output``, ``ChanVariable``), so a message keeps every pair in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAX_MESSAGE = 1 << 20
#: Asterisk's banner is ~30 bytes; whoever sends more without a line end is not Asterisk.
MAX_BANNER = 256


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
            if len(self._buffer) > MAX_BANNER:
                raise AmiProtocolError(f"no AMI banner in the first {MAX_BANNER} bytes")
            return frames
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            if end > MAX_MESSAGE:
                raise AmiProtocolError("message larger than 1 MiB")
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


_FORBIDDEN = ("\r", "\n", "\0")


def _clean(what: str, text: str) -> str:
    if any(c in text for c in _FORBIDDEN):
        raise ValueError(f"AMI {what} may not contain line breaks or NUL: {text[:40]!r}")
    return text


def _name(what: str, text: str, also: str = "") -> str:
    _clean(what, text)
    if not text or text != text.strip() or ":" in text or any(c in text for c in also):
        raise ValueError(f"bad AMI {what}: {text[:40]!r}")
    return text


def encode_action(action: str, action_id: str, fields: dict[str, str] | None = None,
                  variables: dict[str, str] | None = None) -> bytes:
    """One AMI action block; :class:`ValueError` when any part could break out of its line
    (CR, LF or NUL anywhere: action, ActionID, keys, values, variable names and values)
    or a key could be read as another (``:`` in a key, ``=`` in a variable name)."""
    lines = [f"Action: {_name('action', action)}", f"ActionID: {_clean('ActionID', action_id)}"]
    for key, value in (fields or {}).items():
        lines.append(f"{_name('field name', key)}: {_clean(f'field {key}', value)}")
    for key, value in (variables or {}).items():
        lines.append(f"Variable: {_name('variable name', key, '=')}="
                     f"{_clean(f'variable {key}', value)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
