"""A thin asyncio AudioSocket server around :class:`AudioSocketParser`.

Per connection, one ``TaskGroup`` with three named tasks: ``audiosocket-send``
(paced 20 ms frames back to Asterisk from the first moment: queued prompt audio, else
silence, because Asterisk tears down a socket that sends nothing), ``audiosocket-read``
(parser → inbound 20 ms frames and DTMF) and ``audiosocket-call`` (the handler)::

    async def handler(session: AudioSocketSession) -> None:
        async for frame in session.audio(): ...

    async with AudioSocketServer(handler, "127.0.0.1", 9092) as server:
        await server.serve()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from ivr.speech.audiosocket import (
    FRAME_BYTES,
    SAMPLE_RATE,
    Audio,
    AudioSocketError,
    AudioSocketParser,
    CallId,
    Dtmf,
    Event,
    Hangup,
    PeerError,
    encode_audio,
    encode_hangup,
)
from ivr.tcpserver import TcpListener

log = logging.getLogger(__name__)

FRAME_S = 0.020
_READ_BYTES = 4096


@dataclass(frozen=True)
class ServerConfig:
    """Connection limits."""

    uuid_timeout_s: float = 2.0  # Asterisk sends the UUID at once
    session_timeout_s: float | None = None  # cap on one handler run (None: the call's length)
    max_buffered_ms: int = 10_000  # inbound audio kept for a slow handler; older frames drop
    max_lag_s: float = 0.2  # a sender this late resets its clock instead of bursting


class AudioSocketSession:
    """One Asterisk channel's audio: inbound frames, outbound playback, hangup."""

    def __init__(self, peer: str, config: ServerConfig) -> None:
        self.peer = peer
        self._uuid: uuid.UUID | None = None
        self._digits: list[str] = []
        self._inbound: asyncio.Queue[bytes | None] = asyncio.Queue(
            maxsize=max(1, config.max_buffered_ms // 20))
        self._partial = bytearray()
        self._outbound = bytearray()
        self._idle = asyncio.Event()
        self._idle.set()
        self._uuid_known = asyncio.Event()
        self._hangup_requested = asyncio.Event()
        self._closed = asyncio.Event()
        self._ended = False
        self._peer_left = False  # Asterisk hung up or closed: no hangup message owed
        self.frames_in = 0
        self.frames_out = 0
        self.frames_dropped = 0

    @property
    def uuid(self) -> uuid.UUID:
        """The channel's AudioSocket UUID (known before the handler runs)."""
        if self._uuid is None:
            raise RuntimeError("no UUID received yet")
        return self._uuid

    @property
    def digits(self) -> tuple[str, ...]:
        """DTMF digits received so far."""
        return tuple(self._digits)

    @property
    def closed(self) -> bool:
        """True once the connection is over (either side hung up or it failed)."""
        return self._closed.is_set()

    async def audio(self) -> AsyncIterator[bytes]:
        """Inbound audio as 20 ms (320-byte) frames until the caller hangs up."""
        while True:
            frame = await self._inbound.get()
            if frame is None:
                self._inbound.put_nowait(None)  # later iterations end at once too
                return
            yield frame

    def send_audio(self, pcm: bytes) -> None:
        """Queue 8 kHz 16-bit mono audio for playback (paced; ignored once closed)."""
        if self.closed or not pcm:
            return
        self._outbound += pcm
        self._idle.clear()

    def stop_audio(self) -> None:
        """Drop queued playback at once (barge-in); silence follows."""
        self._outbound.clear()
        self._idle.set()

    async def playback_done(self) -> None:
        """Wait until queued audio has been sent (or the connection closed)."""
        waiters = [asyncio.ensure_future(self._idle.wait()), asyncio.ensure_future(self._closed.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def hangup(self) -> None:
        """Let queued audio finish, send the hangup message, wait for the close."""
        self._hangup_requested.set()
        await self._closed.wait()

    # -- used by the server's tasks -------------------------------------------------

    def _take_frame(self) -> bytes:
        if not self._outbound:
            return bytes(FRAME_BYTES)
        frame = bytes(self._outbound[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
        del self._outbound[:FRAME_BYTES]
        if not self._outbound:
            self._idle.set()
        return frame

    def _inbound_audio(self, pcm: bytes) -> None:
        self._partial += pcm
        while len(self._partial) >= FRAME_BYTES:
            frame = bytes(self._partial[:FRAME_BYTES])
            del self._partial[:FRAME_BYTES]
            if self._inbound.full():
                self._inbound.get_nowait()
                self.frames_dropped += 1
            self._inbound.put_nowait(frame)
            self.frames_in += 1

    def _end_inbound(self) -> None:
        if not self._ended:
            self._ended = True
            if self._inbound.full():
                self._inbound.get_nowait()
                self.frames_dropped += 1
            self._inbound.put_nowait(None)
            self._uuid_known.set()  # wake a call task still waiting for the UUID

    def _close(self) -> None:
        self._end_inbound()
        self._closed.set()


Handler = Callable[[AudioSocketSession], Awaitable[None]]


class AudioSocketServer(TcpListener):
    """``async with AudioSocketServer(handler, host, port) as server: await server.serve()``."""

    protocol = "AudioSocket"

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 9092,
                 config: ServerConfig | None = None) -> None:
        super().__init__(host, port)
        self._handler = handler
        self._config = config or ServerConfig()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        session = AudioSocketSession(peer, self._config)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._send(session, writer), name=f"audiosocket-send {peer}")
                read = tg.create_task(self._read(session, reader), name=f"audiosocket-read {peer}")
                tg.create_task(self._call(session, read), name=f"audiosocket-call {peer}")
        finally:
            session._close()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _send(self, session: AudioSocketSession, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while not session.closed:
                if session._hangup_requested.is_set() and session._idle.is_set():
                    writer.write(encode_hangup())
                    await writer.drain()
                    break
                writer.write(encode_audio(session._take_frame(), SAMPLE_RATE))
                await writer.drain()
                session.frames_out += 1
                due += FRAME_S
                lag = loop.time() - due
                if lag > self._config.max_lag_s:
                    log.warning("AudioSocket sender %s ran %.0f ms late", session.peer, lag * 1000)
                    due = loop.time()
                await asyncio.sleep(max(0.0, due - loop.time()))
        except ConnectionError as exc:
            log.info("AudioSocket %s: send failed: %s", session.peer, exc)
        finally:
            session._close()

    async def _read(self, session: AudioSocketSession, reader: asyncio.StreamReader) -> None:
        parser = AudioSocketParser()
        try:
            while not parser.closed:
                data = await reader.read(_READ_BYTES)
                if not data:
                    session._peer_left = True
                    break
                try:
                    events = parser.feed(data)
                except AudioSocketError as exc:
                    self._dispatch(session, exc.events)
                    log.warning("AudioSocket %s: protocol error: %s", session.peer, exc.reason)
                    break
                self._dispatch(session, events)
        except ConnectionError as exc:
            session._peer_left = True
            log.info("AudioSocket %s: read failed: %s", session.peer, exc)
        finally:
            session._end_inbound()
            if parser.buffered:
                log.info("AudioSocket %s: %d bytes of a truncated message at close",
                         session.peer, parser.buffered)

    def _dispatch(self, session: AudioSocketSession, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, CallId):
                if session._uuid is None:
                    session._uuid = event.uuid
                    session._uuid_known.set()
            elif session._uuid is None:
                log.warning("AudioSocket %s: %s before the UUID", session.peer, type(event).__name__)
                session._end_inbound()
                return
            elif isinstance(event, Audio):
                if event.sample_rate != SAMPLE_RATE:
                    log.warning("AudioSocket %s: %d Hz audio dropped (force slin: c(slin))",
                                session.peer, event.sample_rate)
                    continue
                session._inbound_audio(event.pcm)
            elif isinstance(event, Dtmf):
                session._digits.append(event.digit)
            elif isinstance(event, PeerError):
                log.warning("AudioSocket %s: peer error: %s", session.peer, event.description)
                session._end_inbound()
            elif isinstance(event, Hangup):
                session._peer_left = True
                session._end_inbound()

    async def _call(self, session: AudioSocketSession, read: asyncio.Task[None]) -> None:
        try:
            try:
                async with asyncio.timeout(self._config.uuid_timeout_s):
                    await session._uuid_known.wait()
            except TimeoutError:
                log.warning("AudioSocket %s: no UUID within %.1f s", session.peer,
                            self._config.uuid_timeout_s)
                return
            if session._uuid is None:
                return
            try:
                async with asyncio.timeout(self._config.session_timeout_s):
                    await self._handler(session)
            except TimeoutError:
                log.error("AudioSocket handler for %s overran %.1f s", session.uuid,
                          self._config.session_timeout_s)
            except Exception:
                log.exception("AudioSocket handler for %s failed", session.uuid)
        finally:
            if not session.closed and not session._peer_left:
                try:
                    async with asyncio.timeout(30):
                        await session.hangup()
                except TimeoutError:
                    log.warning("AudioSocket %s: hangup not flushed in 30 s", session.peer)
            session._close()
            read.cancel()
