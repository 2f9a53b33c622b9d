"""A blocking client for the CLI."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from ivr.control.protocol import LineDecoder, encode, request


class ControlUnavailable(RuntimeError):
    """The controller is not running (no socket) or did not answer."""


def call(path: Path, op: str, timeout_s: float = 10.0, **args: Any) -> dict[str, Any]:
    """Send one request; return the response message."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(encode(request(op, **args)))
            decoder = LineDecoder()
            while True:
                data = sock.recv(65536)
                if not data:
                    raise ControlUnavailable(f"the controller closed {path} without answering")
                messages = decoder.feed(data)
                if messages:
                    return messages[0]
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ControlUnavailable(f"no controller listening on {path}: is `hotline run` up?") from exc
    except TimeoutError as exc:
        raise ControlUnavailable(f"the controller did not answer on {path} in {timeout_s} s") from exc
