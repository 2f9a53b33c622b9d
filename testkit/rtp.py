"""An RTP endpoint for tests: sends a tone, records and analyses what it hears.

SIPp handles the signalling of a test party but cannot tell what audio reaches it,
so each SIPp scenario with ``rtp`` in its name advertises the port of an
:class:`RtpParty` in its SDP. The party sends its own tone (PCMU, 20 ms packets)
and RFC 4733 DTMF, and decides from the received audio which tones it hears: a
three-way conference mixes when each party hears the other two and not itself.

Like Asterisk with ``rtp_symmetric=yes``, a party learns where to send from the
first packet it receives (unless given ``remote``) and follows the latest source.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType

import numpy as np
import numpy.typing as npt

RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
PT_PCMU = 0
PT_TELEPHONE_EVENT = 101

# Far apart, off the DTMF and call-progress frequencies, and with no harmonic or
# intermodulation product up to the 4th order within 140 Hz of another party's tone
# (500/1100/1700 would not do: 2 x 1100 - 500 = 1700).
CALLER_HZ = 560.0
AGENT_HZ = 1400.0
SUBCENTER_HZ = 1820.0

Samples = npt.NDArray[np.int16]

_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635
_EVENTS = "0123456789*#ABCD"


# --- G.711 mu-law ------------------------------------------------------------------------------

def ulaw_encode(pcm16: npt.ArrayLike) -> bytes:
    """G.711 mu-law bytes of 16-bit linear samples."""
    x = np.asarray(pcm16, dtype=np.int32)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    encoded: bytes = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()
    return encoded


def ulaw_decode(data: bytes) -> Samples:
    """16-bit linear samples of G.711 mu-law bytes."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = ((((u & 0x0F) << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


# --- tones and their detection -----------------------------------------------------------------

def tone(freq_hz: float, ms: float, level_dbfs: float = -12.0, rate: int = RATE,
         start_sample: int = 0) -> Samples:
    """A sine of ``ms`` milliseconds at ``level_dbfs`` (peak; 0 dBFS is full scale)."""
    n = np.arange(start_sample, start_sample + round(rate * ms / 1000), dtype=np.float64)
    amplitude = 32767.0 * 10 ** (level_dbfs / 20)
    return np.round(amplitude * np.sin(2 * np.pi * freq_hz * n / rate)).astype(np.int16)


Spectrum = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


def spectrum_dbfs(samples: npt.ArrayLike, rate: int = RATE) -> Spectrum:
    """(frequencies, level of a sine at each frequency in dBFS) under a Hann window."""
    x = np.asarray(samples, dtype=np.float64)
    window = np.hanning(len(x))
    amplitude = 2 * np.abs(np.fft.rfft(x * window)) / max(float(window.sum()), 1e-12)
    freqs = np.fft.rfftfreq(len(x), 1 / rate).astype(np.float64)
    return freqs, (20 * np.log10(amplitude / 32767.0 + 1e-12)).astype(np.float64)


def tone_level_db(samples: npt.ArrayLike, freq_hz: float, rate: int = RATE,
                  tolerance_hz: float = 20.0) -> float:
    """Level in dBFS of the strongest component within ``tolerance_hz`` of ``freq_hz``."""
    freqs, levels = spectrum_dbfs(samples, rate)
    near = np.abs(freqs - freq_hz) <= max(tolerance_hz, rate / max(len(freqs) * 2 - 2, 1))
    return float(levels[near].max()) if near.any() else -240.0


def noise_floor_db(samples: npt.ArrayLike, rate: int = RATE,
                   band: tuple[float, float] = (200, 3600)) -> float:
    """Median spectral level in dBFS over the telephone band: what "no tone" looks like."""
    freqs, levels = spectrum_dbfs(samples, rate)
    inside = (freqs >= band[0]) & (freqs <= band[1])
    return float(np.median(levels[inside])) if inside.any() else -240.0


def goertzel_power(samples: npt.ArrayLike, freq_hz: float, rate: int = RATE) -> float:
    """Power at ``freq_hz`` (a single DFT term, as Goertzel computes it); a full-scale sine gives 1."""
    x = np.asarray(samples, dtype=np.float64) / 32767.0
    if len(x) == 0:
        return 0.0
    term = np.dot(x, np.exp(-2j * np.pi * freq_hz * np.arange(len(x)) / rate))
    return float(4 * abs(term) ** 2 / len(x) ** 2)


# --- RTP and RFC 4733 --------------------------------------------------------------------------

@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet (RFC 3550); CSRCs, header extensions and padding are dropped on parse."""

    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    marker: bool = False
    payload: bytes = b""

    def to_bytes(self) -> bytes:
        """The packet on the wire (version 2, no CSRC, no extension)."""
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return struct.pack("!BBHII", 0x80, second, self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                           self.ssrc & 0xFFFFFFFF) + self.payload


def build_rtp(packet: RtpPacket) -> bytes:
    """Same as ``packet.to_bytes()``."""
    return packet.to_bytes()


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse an RTP packet; ValueError if ``data`` is not one."""
    if len(data) < 12:
        raise ValueError(f"RTP packet too short: {len(data)} bytes")
    first, second, seq, timestamp, ssrc = struct.unpack("!BBHII", data[:12])
    if first >> 6 != 2:
        raise ValueError(f"not RTP version 2: {first >> 6}")
    end = len(data)
    if first & 0x20:
        padding = data[-1]
        if padding == 0 or padding > end - 12:
            raise ValueError(f"bad RTP padding: {padding}")
        end -= padding
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if offset + 4 > end:
            raise ValueError("truncated RTP header extension")
        offset += 4 + 4 * struct.unpack("!H", data[offset + 2:offset + 4])[0]
    if offset > end:
        raise ValueError("RTP header longer than the packet")
    return RtpPacket(second & 0x7F, seq, timestamp, ssrc, bool(second & 0x80), data[offset:end])


@dataclass(frozen=True)
class TelephoneEvent:
    """An RFC 4733 telephone-event payload."""

    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str:
        """The DTMF key ("0"-"9", "*", "#", "A"-"D"); "?" for other events."""
        return _EVENTS[self.event] if 0 <= self.event < len(_EVENTS) else "?"

    def to_bytes(self) -> bytes:
        """The 4-byte payload."""
        return encode_event(self.event, self.end, self.duration, self.volume)


def event_code(digit: str) -> int:
    """RFC 4733 event code of a DTMF key; ValueError for anything else."""
    code = _EVENTS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise ValueError(f"not a DTMF key: {digit!r}")
    return code


def encode_event(event: int | str, end: bool, duration: int, volume: int = 10) -> bytes:
    """RFC 4733 payload: event, end bit, volume (-dBm0, 0-63), duration in timestamp units."""
    code = event_code(event) if isinstance(event, str) else event
    if not 0 <= code <= 255 or not 0 <= volume <= 63 or not 0 <= duration <= 0xFFFF:
        raise ValueError(f"telephone-event out of range: {code}, {volume}, {duration}")
    return struct.pack("!BBH", code, (0x80 if end else 0) | volume, duration)


def parse_event(payload: bytes) -> TelephoneEvent:
    """Parse an RFC 4733 payload (the first event of it); ValueError if too short."""
    if len(payload) < 4:
        raise ValueError(f"telephone-event payload too short: {len(payload)} bytes")
    event, flags, duration = struct.unpack("!BBH", payload[:4])
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


# --- the party ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Event:
    code: int
    tick: int
    ticks: int
    volume: int
    payload_type: int


@dataclass(frozen=True)
class _Silence:
    pass


@dataclass(frozen=True)
class _Done:
    flag: threading.Event


class RtpParty:
    """A UDP RTP endpoint in background threads that talks a tone and listens.

    Bound at construction (``port`` is known before SIPp starts); sends nothing until
    it knows the far end: ``remote`` or the source of the first packet it receives.
    """

    def __init__(self, tone_hz: float | None, port: int = 0, host: str = "127.0.0.1",
                 remote: tuple[str, int] | None = None, level_dbfs: float = -12.0,
                 dtmf_payload_type: int = PT_TELEPHONE_EVENT) -> None:
        self.tone_hz = tone_hz
        self.level_dbfs = level_dbfs
        self.dtmf_payload_type = dtmf_payload_type
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.05)
        self.host: str = self._sock.getsockname()[0]
        self.port: int = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._remote = remote
        self._remote_known = threading.Event()
        if remote is not None:
            self._remote_known.set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._plan: deque[_Event | _Silence | _Done] = deque()
        self._audio: list[tuple[float, Samples]] = []
        self._arrivals: list[float] = []
        self._dtmf: list[tuple[float, str]] = []
        self._last_event: tuple[int, int] | None = None
        self.junk = 0
        self.sent = 0
        self.ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts0 = random.getrandbits(32)

    # lifecycle

    def start(self) -> RtpParty:
        """Start the receiving and sending threads."""
        if self._threads:
            return self
        self._threads = [threading.Thread(target=self._receive_loop, name=f"rtp-rx-{self.port}", daemon=True),
                         threading.Thread(target=self._send_loop, name=f"rtp-tx-{self.port}", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop the threads and close the socket (idempotent)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(2.0)
        self._sock.close()

    def __enter__(self) -> RtpParty:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RtpParty(tone_hz={self.tone_hz}, port={self.port}, remote={self.remote})"

    @property
    def remote(self) -> tuple[str, int] | None:
        """Where packets go: ``remote`` or the latest source heard."""
        with self._lock:
            return self._remote

    def connect(self, host: str, port: int) -> None:
        """Start sending to ``(host, port)`` now (e.g. the far end's SDP) instead of waiting
        for its first packet; a later packet from elsewhere still moves the target."""
        with self._lock:
            self._remote = (host, port)
        self._remote_known.set()

    @staticmethod
    def mark() -> float:
        """Monotonic now, to pass as ``since``."""
        return time.monotonic()

    # receiving

    def _receive_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:  # ICMP port unreachable from an earlier send, or the socket closed
                if self._stop.wait(0.01):
                    return
                continue
            now = time.monotonic()
            try:
                packet = parse_rtp(data)
            except ValueError:
                self.junk += 1
                continue
            with self._lock:
                self._remote = (source[0], source[1])
                self._arrivals.append(now)
                if packet.payload_type == PT_PCMU:
                    self._audio.append((now, ulaw_decode(packet.payload)))
                elif packet.payload_type == self.dtmf_payload_type:
                    self._on_event(now, packet)
            self._remote_known.set()

    def _on_event(self, now: float, packet: RtpPacket) -> None:
        try:
            event = parse_event(packet.payload)
        except ValueError:
            self.junk += 1
            return
        key = (packet.ssrc, packet.timestamp)
        if key != self._last_event:  # every packet of one event carries its start timestamp
            self._last_event = key
            self._dtmf.append((now, event.digit))

    def packets_received(self, since: float | None = None) -> int:
        """RTP packets received (any payload type) after ``since``."""
        with self._lock:
            return sum(1 for t in self._arrivals if since is None or t >= since)

    def received_audio(self, since: float | None = None) -> Samples:
        """Decoded PCMU received after ``since``, in arrival order."""
        with self._lock:
            chunks = [s for t, s in self._audio if since is None or t >= since]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def received_dtmf(self, since: float | None = None) -> str:
        """DTMF keys received as RFC 4733 events, one per event."""
        with self._lock:
            return "".join(d for t, d in self._dtmf if since is None or t >= since)

    def _windows(self, since: float | None, window_ms: float) -> list[Samples]:
        audio = self.received_audio(since)
        size = max(1, round(RATE * window_ms / 1000))
        return [audio[i:i + size] for i in range(0, len(audio) - size + 1, size)]

    def tone_levels(self, freqs: list[float] | tuple[float, ...], since: float | None = None,
                    window_ms: float = 400) -> dict[float, float]:
        """Median level in dBFS of each frequency over the windows after ``since`` (for messages);
        key 0.0 holds the median noise floor."""
        windows = self._windows(since, window_ms)
        if not windows:
            return {f: -240.0 for f in (*freqs, 0.0)}
        levels = {f: float(np.median([tone_level_db(w, f) for w in windows])) for f in freqs}
        levels[0.0] = float(np.median([noise_floor_db(w) for w in windows]))
        return {f: round(v, 1) for f, v in levels.items()}

    def hears(self, freq_hz: float, since: float | None = None, window_ms: float = 400,
              min_level_db: float = -40.0, min_snr_db: float = 15.0, min_fraction: float = 0.5) -> bool:
        """Whether ``freq_hz`` is in the audio received after ``since``.

        The audio is cut into ``window_ms`` windows; the tone is in a window when it is at
        least ``min_level_db`` dBFS and ``min_snr_db`` above the window's median spectral
        level; it is heard when it is in at least ``min_fraction`` of the windows (False
        with less than one window of audio).
        """
        windows = self._windows(since, window_ms)
        if not windows:
            return False
        hits = 0
        for window in windows:
            level = tone_level_db(window, freq_hz)
            if level >= min_level_db and level - noise_floor_db(window) >= min_snr_db:
                hits += 1
        return hits >= min_fraction * len(windows)

    def wait_for_tone(self, freq_hz: float, timeout_s: float = 5.0, since: float | None = None,
                      window_ms: float = 400) -> bool:
        """Poll :meth:`hears` until it is True or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.hears(freq_hz, since, window_ms):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def wait_for_dtmf(self, digits: str, timeout_s: float = 5.0, since: float | None = None) -> bool:
        """Poll until the received DTMF ends with ``digits``."""
        deadline = time.monotonic() + timeout_s
        while not self.received_dtmf(since).endswith(digits):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    # sending

    def send_dtmf(self, digits: str, duration_ms: int = 160, gap_ms: int = 100,
                  payload_type: int | None = None, volume: int = 10, wait: bool = True,
                  timeout_s: float = 5.0) -> None:
        """Send ``digits`` as RFC 4733 events in place of the tone (silence in the gaps).

        Each event: a first packet with the marker bit, one packet per 20 ms with the
        growing duration, then three end packets; all on the audio's SSRC and clock.
        With ``wait``, return once sent; TimeoutError (and nothing sent) if that takes
        ``timeout_s`` longer than the digits themselves (the far end stays unknown).
        """
        pt = self.dtmf_payload_type if payload_type is None else payload_type
        ticks = max(1, round(duration_ms / FRAME_MS))
        plan: list[_Event | _Silence | _Done] = []
        for digit in digits:
            code = event_code(digit)
            plan += [_Event(code, i, ticks, volume, pt) for i in range(ticks)]
            plan += [_Silence()] * round(gap_ms / FRAME_MS)
        done = threading.Event()
        plan.append(_Done(done))
        with self._lock:
            self._plan.extend(plan)
        if wait and not done.wait(len(plan) * FRAME_MS / 1000 + timeout_s):
            mine = {id(step) for step in plan}
            with self._lock:
                self._plan = deque(step for step in self._plan if id(step) not in mine)
            raise TimeoutError(f"DTMF {digits!r} not sent from port {self.port}: far end unknown")

    def _send_loop(self) -> None:
        while not self._remote_known.wait(0.05):
            if self._stop.is_set():
                return
        start = time.monotonic()
        tick = 0
        event_ts = 0
        while not self._stop.is_set():
            due = start + tick * FRAME_MS / 1000
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            if -delay > 0.2:  # stalled (suspended process): skip ticks as a real clock would
                tick += int(-delay * 1000 // FRAME_MS)
            timestamp = (self._ts0 + tick * FRAME_SAMPLES) & 0xFFFFFFFF
            with self._lock:
                step = self._plan.popleft() if self._plan else None
                while isinstance(step, _Done):
                    step.flag.set()
                    step = self._plan.popleft() if self._plan else None
                remote = self._remote
            if remote is None:
                return
            if isinstance(step, _Event):
                if step.tick == 0:
                    event_ts = timestamp
                last = step.tick == step.ticks - 1
                duration = (step.tick + 1) * FRAME_SAMPLES
                payload = encode_event(step.code, last, duration, step.volume)
                for _ in range(3 if last else 1):
                    self._send(RtpPacket(step.payload_type, self._seq, event_ts, self.ssrc,
                                         step.tick == 0, payload), remote)
            else:
                frequency = None if isinstance(step, _Silence) else self.tone_hz
                samples = (tone(frequency, FRAME_MS, self.level_dbfs, start_sample=tick * FRAME_SAMPLES)
                           if frequency else np.zeros(FRAME_SAMPLES, dtype=np.int16))
                self._send(RtpPacket(PT_PCMU, self._seq, timestamp, self.ssrc, tick == 0,
                                     ulaw_encode(samples)), remote)
            tick += 1

    def _send(self, packet: RtpPacket, remote: tuple[str, int]) -> None:
        try:
            self._sock.sendto(packet.to_bytes(), remote)
        except OSError:  # nobody listening there (yet): a phone keeps talking regardless
            pass
        self._seq = (self._seq + 1) & 0xFFFF
        self.sent += 1
