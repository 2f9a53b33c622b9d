"""Control API framing with no I/O: one JSON object per line, each way.

Request:  ``{"op": "transfer.start", "args": {...}}``
Response: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``
"""

from __future__ import annotations

import json
from typing import Any

MAX_LINE = 64 * 1024


class ProtocolError(ValueError):
    """A peer sent something that is not a control message."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class LineDecoder:
    """``feed(bytes) -> messages``; keeps partial lines between feeds."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The complete messages ``data`` finished."""
        self._buffer += data
        messages: list[dict[str, Any]] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if line.strip():
                messages.append(decode_line(line))
        if len(self._buffer) > MAX_LINE:
            raise ProtocolError(f"control message longer than {MAX_LINE} bytes")
        return messages


def decode_line(line: bytes) -> dict[str, Any]:
    """One line as a message, or :class:`ProtocolError`."""
    try:
        message = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("a control message is a JSON object")
    return message


def request(op: str, **args: Any) -> dict[str, Any]:
    """A request message."""
    return {"op": op, "args": args}


def ok(result: Any) -> dict[str, Any]:
    """A success response."""
    return {"ok": True, "result": result}


def error(message: str) -> dict[str, Any]:
    """A failure response."""
    return {"ok": False, "error": message}
