"""The AudioSocket server over loopback TCP, with a fake Asterisk as the client."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from ivr.speech.audiosocket import (
    FRAME_BYTES,
    SILENCE_FRAME,
    Audio,
    AudioSocketParser,
    Event,
    Hangup,
    encode_audio,
    encode_dtmf,
    encode_hangup,
    encode_uuid,
)
from ivr.speech.server import AudioSocketServer, AudioSocketSession, Handler, ServerConfig

CALL = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")


class FakeAsterisk:
    """A client that speaks AudioSocket and records what the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = AudioSocketParser()
        self.events: list[Event] = []
        self.closed = asyncio.Event()

    async def pump(self) -> None:
        while data := await self.reader.read(4096):
            self.events.extend(self.parser.feed(data))
        self.closed.set()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    @property
    def audio(self) -> list[bytes]:
        return [e.pcm for e in self.events if isinstance(e, Audio)]


@contextlib.asynccontextmanager
async def running(handler: Handler, config: ServerConfig | None = None) -> AsyncIterator[FakeAsterisk]:
    async with AudioSocketServer(handler, "127.0.0.1", 0, config) as server, asyncio.TaskGroup() as tg:
        serve = tg.create_task(server.serve(), name="test-audiosocket-serve")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        client = FakeAsterisk(reader, writer)
        pump = tg.create_task(client.pump(), name="test-fake-asterisk")
        try:
            yield client
        finally:
            writer.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await pump
            pump.cancel()
            serve.cancel()


async def test_silence_flows_before_the_uuid_and_audio_reaches_the_handler() -> None:
    seen: dict[str, object] = {}
    prompt = bytes(range(200)) * 4  # 800 bytes: two full frames and a padded one

    async def handler(session: AudioSocketSession) -> None:
        seen["uuid"] = session.uuid
        session.send_audio(prompt)
        frames = [frame async for frame in session.audio()]
        seen["frames"] = frames
        seen["digits"] = session.digits

    async with running(handler) as client:
        await asyncio.sleep(0.15)  # no UUID yet: Asterisk must hear silence regardless
        before = list(client.audio)
        assert len(before) >= 4
        assert all(frame == SILENCE_FRAME for frame in before)

        await client.send(encode_uuid(CALL))
        speech = bytes([1, 2]) * 800  # 1600 bytes = 5 frames, sent in odd sizes
        await client.send(encode_audio(speech[:480]) + encode_dtmf("9") + encode_audio(speech[480:]))
        await asyncio.sleep(0.2)
        await client.send(encode_hangup())
        async with asyncio.timeout(2):
            await client.closed.wait()

    assert seen["uuid"] == CALL
    assert seen["frames"] == [speech[i:i + FRAME_BYTES] for i in range(0, len(speech), FRAME_BYTES)]
    assert seen["digits"] == ("9",)
    sent = b"".join(client.audio)
    assert prompt in sent  # the prompt went out, frame by frame
    assert all(len(frame) == FRAME_BYTES for frame in client.audio)


async def test_frames_are_paced_at_20_ms() -> None:
    async def handler(session: AudioSocketSession) -> None:
        await asyncio.sleep(0.5)

    async with running(handler) as client:
        await client.send(encode_uuid(CALL))
        await asyncio.sleep(0.1)
        start = len(client.audio)
        await asyncio.sleep(0.3)
        sent = len(client.audio) - start
    assert 11 <= sent <= 19  # 15 expected in 300 ms


async def test_the_server_finishes_playback_then_hangs_up() -> None:
    prompt = bytes([7]) * (FRAME_BYTES * 5)

    async def handler(session: AudioSocketSession) -> None:
        session.send_audio(prompt)

    async with running(handler) as client:
        await client.send(encode_uuid(CALL))
        async with asyncio.timeout(2):
            await client.closed.wait()
    assert isinstance(client.events[-1], Hangup)
    assert b"".join(client.audio).endswith(prompt)


async def test_barge_in_drops_queued_playback() -> None:
    stopped = asyncio.Event()

    async def handler(session: AudioSocketSession) -> None:
        session.send_audio(bytes([9]) * FRAME_BYTES * 200)  # 4 s of prompt
        await asyncio.sleep(0.1)
        session.stop_audio()
        stopped.set()
        await session.playback_done()

    async with running(handler) as client:
        await client.send(encode_uuid(CALL))
        async with asyncio.timeout(2):
            await client.closed.wait()
    prompt_frames = sum(frame == bytes([9]) * FRAME_BYTES for frame in client.audio)
    assert stopped.is_set()
    assert prompt_frames < 20


@pytest.mark.parametrize("garbage", [b"\x42\x00\x00", b"\x01\x00\x03abc"])
async def test_a_malformed_stream_ends_the_session(garbage: bytes) -> None:
    ended = asyncio.Event()

    async def handler(session: AudioSocketSession) -> None:
        async for _ in session.audio():
            pass
        ended.set()

    async with running(handler) as client:
        await client.send(encode_uuid(CALL) + encode_audio(bytes(FRAME_BYTES)) + garbage)
        async with asyncio.timeout(2):
            await client.closed.wait()
    assert ended.is_set()


async def test_no_uuid_closes_the_connection_without_calling_the_handler() -> None:
    called = False

    async def handler(session: AudioSocketSession) -> None:
        nonlocal called
        called = True

    async with running(handler, ServerConfig(uuid_timeout_s=0.2)) as client:
        async with asyncio.timeout(2):
            await client.closed.wait()
    assert not called
    assert isinstance(client.events[-1], Hangup)


async def test_a_failing_handler_still_hangs_up_cleanly() -> None:
    async def handler(session: AudioSocketSession) -> None:
        raise RuntimeError("bug in the handler")

    async with running(handler) as client:
        await client.send(encode_uuid(CALL))
        async with asyncio.timeout(2):
            await client.closed.wait()
    assert isinstance(client.events[-1], Hangup)
