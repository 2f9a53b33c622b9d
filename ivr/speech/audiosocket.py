"""The AudioSocket wire format, without I/O.

Every message is a 3-byte header (kind, payload length as a big-endian ``uint16``)
and the payload. Asterisk sends the call's UUID first, then 20 ms audio frames
(signed 16-bit little-endian, 8 kHz mono), DTMF digits, and a hangup or an error.
Feed bytes in, get events out; a truncated message waits for more bytes::

    parser = AudioSocketParser()
    for event in parser.feed(data): ...
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct(">BH")
#: Largest payload the length field can express.
MAX_LENGTH = 0xFFFF
#: Default ceiling for one audio payload: 1 s of 8 kHz audio (Asterisk sends 320 bytes).
DEFAULT_MAX_AUDIO = 16000
SAMPLE_RATE = 8000
#: 20 ms of 8 kHz 16-bit mono audio.
FRAME_BYTES = 320
SILENCE_FRAME = bytes(FRAME_BYTES)


class Kind(IntEnum):
    """The message kinds (the first header byte)."""

    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10  # slin, 8 kHz
    AUDIO_SLIN12 = 0x11
    AUDIO_SLIN16 = 0x12
    AUDIO_SLIN24 = 0x13
    AUDIO_SLIN32 = 0x14
    AUDIO_SLIN44 = 0x15
    AUDIO_SLIN48 = 0x16
    AUDIO_SLIN96 = 0x17
    AUDIO_SLIN192 = 0x18
    ERROR = 0xFF


#: Sample rate of each audio kind (Asterisk 22 sends the wider ones from the channel driver).
AUDIO_RATES: Mapping[Kind, int] = {
    Kind.AUDIO: 8000, Kind.AUDIO_SLIN12: 12000, Kind.AUDIO_SLIN16: 16000,
    Kind.AUDIO_SLIN24: 24000, Kind.AUDIO_SLIN32: 32000, Kind.AUDIO_SLIN44: 44100,
    Kind.AUDIO_SLIN48: 48000, Kind.AUDIO_SLIN96: 96000, Kind.AUDIO_SLIN192: 192000,
}
_KIND_OF_RATE = {rate: kind for kind, rate in AUDIO_RATES.items()}
_KIND_VALUES = frozenset(int(kind) for kind in Kind)

#: Error codes Asterisk itself sends in an error payload.
ERROR_CODES: Mapping[int, str] = {
    0x01: "calling party hung up", 0x02: "frame forwarding error", 0x04: "memory error",
}

_DTMF_DIGITS = frozenset("0123456789*#ABCDabcd")


class AudioSocketError(Exception):
    """The byte stream is not AudioSocket; the connection cannot be resynchronised.

    ``events`` holds what the failing :meth:`AudioSocketParser.feed` call had parsed
    before the bad message, so no good audio is lost with it.
    """

    def __init__(self, reason: str, events: list[Event] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.events: list[Event] = events or []


@dataclass(frozen=True)
class Hangup:
    """The peer ends the session (``0x00``)."""


@dataclass(frozen=True)
class CallId:
    """The stream's UUID (``0x01``), always the first message from Asterisk."""

    uuid: uuid.UUID


@dataclass(frozen=True)
class Dtmf:
    """A DTMF digit the caller pressed (``0x03``)."""

    digit: str


@dataclass(frozen=True)
class Audio:
    """Signed 16-bit little-endian mono PCM (``0x10``: 8 kHz)."""

    pcm: bytes
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_ms(self) -> float:
        """Length of the payload in milliseconds."""
        return len(self.pcm) / 2 / self.sample_rate * 1000


@dataclass(frozen=True)
class PeerError:
    """The peer reports an error (``0xff``); ``code`` is None when the payload is empty."""

    code: int | None
    payload: bytes = b""

    @property
    def description(self) -> str:
        """Asterisk's meaning of the code, where it is one of its own."""
        if self.code is None:
            return "error without a code"
        return ERROR_CODES.get(self.code, f"application error 0x{self.code:02x}")


Event = Hangup | CallId | Dtmf | Audio | PeerError


class AudioSocketParser:
    """Turns the byte stream from Asterisk into :data:`Event` objects.

    A header announcing more than the limits allow fails at once, without waiting
    for the payload. After an :class:`AudioSocketError` the parser stays failed: a
    stream with a bad header cannot be trusted to be aligned on messages again.
    """

    def __init__(self, max_audio: int = DEFAULT_MAX_AUDIO) -> None:
        if not 2 <= max_audio <= MAX_LENGTH:
            raise ValueError(f"max_audio must be within 2..{MAX_LENGTH}")
        self._max_audio = max_audio
        self._buffer = bytearray()
        self._failed: str | None = None
        self._closed = False

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message waiting for the rest."""
        return len(self._buffer)

    @property
    def closed(self) -> bool:
        """True once a hangup was parsed; bytes after it are ignored."""
        return self._closed

    def feed(self, data: bytes) -> list[Event]:
        """Consume bytes; return the events they complete (bytes after a hangup are dropped)."""
        if self._failed is not None:
            raise AudioSocketError(f"parser already failed: {self._failed}")
        if self._closed:
            return []
        self._buffer += data
        events: list[Event] = []
        while len(self._buffer) >= HEADER.size and not self._closed:
            kind_byte, length = HEADER.unpack_from(self._buffer)
            problem = self._header_problem(kind_byte, length)
            if problem is None:
                end = HEADER.size + length
                if len(self._buffer) < end:
                    break
                payload = bytes(self._buffer[HEADER.size:end])
                del self._buffer[:end]
                event = self._event(Kind(kind_byte), payload)
                if isinstance(event, str):
                    problem = event
                else:
                    events.append(event)
                    self._closed = isinstance(event, Hangup)
            if problem is not None:
                self._failed = problem
                self._buffer.clear()
                raise AudioSocketError(problem, events)
        if self._closed:
            self._buffer.clear()
        return events

    def _header_problem(self, kind_byte: int, length: int) -> str | None:
        if kind_byte not in _KIND_VALUES:
            return f"unknown message kind 0x{kind_byte:02x}"
        kind = Kind(kind_byte)
        if kind is Kind.UUID and length != 16:
            return f"UUID payload must be 16 bytes, got {length}"
        if kind is Kind.DTMF and length != 1:
            return f"DTMF payload must be 1 byte, got {length}"
        if kind is Kind.HANGUP and length != 0:
            return f"hangup payload must be empty, got {length} bytes"
        if kind in AUDIO_RATES:
            if length == 0 or length % 2:
                return f"audio payload must be a non-empty whole number of samples, got {length} bytes"
            if length > self._max_audio:
                return f"audio payload of {length} bytes exceeds the {self._max_audio}-byte limit"
        return None

    def _event(self, kind: Kind, payload: bytes) -> Event | str:
        """The event for a complete message, or what is wrong with it."""
        if kind is Kind.HANGUP:
            return Hangup()
        if kind is Kind.UUID:
            return CallId(uuid.UUID(bytes=payload))
        if kind is Kind.DTMF:
            digit = chr(payload[0])
            if digit not in _DTMF_DIGITS:
                return f"not a DTMF digit: {payload!r}"
            return Dtmf(digit.upper())
        if kind is Kind.ERROR:
            return PeerError(payload[0] if payload else None, payload)
        return Audio(payload, AUDIO_RATES[kind])


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    """One message of any kind; raises ``ValueError`` when the payload does not fit."""
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_LENGTH}")
    return HEADER.pack(kind, len(payload)) + payload


def encode_audio(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """An audio message; Asterisk rejects empty ones and half samples."""
    if not pcm or len(pcm) % 2:
        raise ValueError("audio must be a non-empty whole number of 16-bit samples")
    kind = _KIND_OF_RATE.get(sample_rate)
    if kind is None:
        raise ValueError(f"AudioSocket has no audio kind for {sample_rate} Hz")
    return encode(kind, pcm)


def encode_hangup() -> bytes:
    """The hangup message ``00 00 00``."""
    return encode(Kind.HANGUP)


def encode_uuid(call_id: uuid.UUID) -> bytes:
    """The UUID message Asterisk sends first (used by test clients)."""
    return encode(Kind.UUID, call_id.bytes)


def encode_dtmf(digit: str) -> bytes:
    """A DTMF message (used by test clients)."""
    if len(digit) != 1 or digit not in _DTMF_DIGITS:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return encode(Kind.DTMF, digit.encode("ascii"))


def encode_error(code: int | None = None) -> bytes:
    """An error message, with a one-byte code or none."""
    return encode(Kind.ERROR, b"" if code is None else bytes([code]))
