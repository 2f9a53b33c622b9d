"""Control API framing with no I/O: one JSON object per line, each way.

Request:  ``{"op": "transfer.start", "args": {...}}``
Response: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``
"""

from __future__ import annotations

import json
from typing import Any

MAX_LINE = 64 * 1024
MAX_DEPTH = 32  # nesting of objects and arrays; no request needs more than 3
MAX_INT_DIGITS = 30


class ProtocolError(ValueError):
    """A peer sent something that is not a control message."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line (a lone surrogate in a string becomes ``?``, never an error)."""
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", errors="replace") + b"\n"


class LineDecoder:
    """``feed(bytes) -> messages``; keeps partial lines between feeds."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The complete messages ``data`` finished."""
        self._buffer += data
        messages: list[dict[str, Any]] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            if end > MAX_LINE:
                raise ProtocolError(f"control message longer than {MAX_LINE} bytes")
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if line.strip():
                messages.append(decode_line(line))
        if len(self._buffer) > MAX_LINE:
            raise ProtocolError(f"control message longer than {MAX_LINE} bytes")
        return messages


def _constant(name: str) -> Any:
    raise ProtocolError(f"not JSON: {name} is not a number")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ProtocolError(f"integer longer than {MAX_INT_DIGITS} digits")
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ProtocolError(f"number out of range: {text[:40]}")
    return value


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    message = dict(pairs)
    if len(message) != len(pairs):
        raise ProtocolError("duplicate key in a JSON object")
    return message


def _check(value: Any, depth: int = 0) -> None:
    """Nesting within :data:`MAX_DEPTH`; every string valid Unicode (no lone surrogate)."""
    if depth > MAX_DEPTH:
        raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError("a string holds a lone surrogate (not Unicode text)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def _depth_ok(line: bytes) -> bool:
    """Bracket nesting before parsing (json's C decoder recurses per level)."""
    depth = 0
    for byte in line:
        if byte in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif byte in b"]}":
            depth -= 1
    return True


def decode_line(line: bytes) -> dict[str, Any]:
    """One line as a message, or :class:`ProtocolError` (never another exception): UTF-8
    JSON, an object, no duplicate keys, no NaN/Infinity, integers of at most 30 digits,
    nesting within 32 levels, no lone surrogates."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"not JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not _depth_ok(line):  # brackets inside strings count too: a false refusal is fine
        raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(text, parse_constant=_constant, parse_int=_integer,
                             parse_float=_number, object_pairs_hook=_pairs)
    except ProtocolError:
        raise
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ProtocolError(f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a control message is a JSON object")
    _check(message)
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
