"""The FastAGI wire protocol, without I/O.

Asterisk opens the connection and sends its environment as ``agi_key: value``
lines ended by an empty line; then it answers each command we send with a
``200 result=N [(data)] [endpos=...]`` line (or a ``5xx`` error, possibly
multi-line), and may send ``HANGUP`` when the channel hangs up. Feed bytes in,
get events out::

    parser = AgiParser()
    for event in parser.feed(data): ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LINE = 8192
#: The whole environment block: Asterisk sends ~25 short lines plus the AGI() arguments.
MAX_ENVIRONMENT = 16 * 1024
MAX_ENVIRONMENT_LINES = 256
_ENV_KEY = re.compile(r"agi_[A-Za-z0-9_]{1,64}")


class AgiProtocolError(Exception):
    """The peer sent something that is not AGI."""


@dataclass(frozen=True)
class AgiEnvironment:
    """The ``agi_*`` variables Asterisk sends first."""

    variables: dict[str, str]

    @property
    def script(self) -> str:
        """The path part of the ``agi://host:port/script`` URL."""
        return self.variables.get("agi_network_script", "")

    def get(self, key: str, default: str = "") -> str:
        """A variable by its name without the ``agi_`` prefix."""
        return self.variables.get(f"agi_{key}", default)

    @property
    def args(self) -> list[str]:
        """The AGI() application arguments after the URL."""
        out = []
        i = 1
        while f"agi_arg_{i}" in self.variables:
            out.append(self.variables[f"agi_arg_{i}"])
            i += 1
        return out


@dataclass(frozen=True)
class AgiResponse:
    """Asterisk's answer to one command."""

    code: int
    result: str | None = None
    data: str | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True for ``200`` answers whose result is not ``-1``."""
        return self.code == 200 and self.result != "-1"


@dataclass(frozen=True)
class AgiHangup:
    """Asterisk says the channel has hung up."""


AgiEvent = AgiEnvironment | AgiResponse | AgiHangup

_RESPONSE = re.compile(r"^(?P<code>\d{3})(?P<sep>[ -])(?P<rest>.*)$")
_RESULT = re.compile(r"result=(?P<result>\S*)(?:\s+\((?P<data>[^)]*)\))?")


class AgiParser:
    """Turns the byte stream from Asterisk into :data:`AgiEvent` objects."""

    def __init__(self) -> None:
        self._buffer = b""
        self._env: dict[str, str] | None = {}
        self._multiline: list[str] | None = None
        self._multiline_code = 0
        self._env_bytes = 0

    def feed(self, data: bytes) -> list[AgiEvent]:
        """Consume bytes; return the events they complete."""
        self._buffer += data
        events: list[AgiEvent] = []
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            if len(raw) > MAX_LINE:
                raise AgiProtocolError(f"line longer than {MAX_LINE} bytes")
            if self._env is not None:
                self._env_bytes += len(raw) + 1
                if self._env_bytes > MAX_ENVIRONMENT or len(self._env) >= MAX_ENVIRONMENT_LINES:
                    raise AgiProtocolError(f"AGI environment larger than {MAX_ENVIRONMENT} bytes "
                                           f"or {MAX_ENVIRONMENT_LINES} lines")
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            event = self._line(line)
            if event is not None:
                events.append(event)
        if len(self._buffer) > MAX_LINE:
            raise AgiProtocolError(f"line longer than {MAX_LINE} bytes")
        return events

    @property
    def in_environment(self) -> bool:
        """True until the environment block has been read."""
        return self._env is not None

    def _line(self, line: str) -> AgiEvent | None:
        if self._env is not None:
            if line == "":
                env, self._env = self._env, None
                return AgiEnvironment(env)
            key, sep, value = line.partition(":")
            key = key.strip()
            if not sep or not _ENV_KEY.fullmatch(key):
                raise AgiProtocolError(f"not an AGI environment line: {line[:80]!r}")
            if key in self._env:  # a forged request would override what Asterisk said
                raise AgiProtocolError(f"duplicate AGI environment key {key!r}")
            self._env[key] = value.strip()
            return None
        if line == "HANGUP":
            return AgiHangup()
        if self._multiline is not None:
            self._multiline.append(line)
            match = _RESPONSE.match(line)
            if match and match["sep"] == " " and int(match["code"]) == self._multiline_code:
                lines, self._multiline = self._multiline, None
                return AgiResponse(self._multiline_code, lines=lines)
            return None
        if line == "":
            return None
        match = _RESPONSE.match(line)
        if match is None:
            raise AgiProtocolError(f"not an AGI response: {line[:80]!r}")
        code = int(match["code"])
        if match["sep"] == "-":
            self._multiline, self._multiline_code = [line], code
            return None
        result = _RESULT.search(match["rest"])
        return AgiResponse(code, result["result"] if result else None,
                           result["data"] if result else None, [line])


def quote(value: str) -> str:
    """Quote one command argument the way res_agi parses it."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", " ").replace("\n", " ") + '"'


def encode_command(command: str, *args: str) -> bytes:
    """One AGI command line, e.g. ``encode_command("SET VARIABLE", "X", "1")``."""
    if "\r" in command or "\n" in command:
        raise ValueError("an AGI command may not contain line breaks")
    parts = [command, *(quote(a) for a in args)]
    return (" ".join(parts) + "\n").encode("utf-8")
