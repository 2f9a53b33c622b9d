"""A live call end to end over loopback: AudioSocket → VAD (webrtcvad on espeak-ng speech)
→ a fake recogniser → classifier → the result board, with barge-in on the prompt."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ivr.speech.asr import AsrResult, AsrStream
from ivr.speech.audiosocket import (
    FRAME_BYTES,
    Audio,
    AudioSocketParser,
    Event,
    Hangup,
    encode_audio,
    encode_uuid,
)
from ivr.speech.classify import Classification
from ivr.speech.nb import load_ngram_model
from ivr.speech.pipeline import Outcome, PipelineConfig, PipelineResult
from ivr.speech.rules import load_rules
from ivr.speech.server import AudioSocketServer
from ivr.speech.service import ResultBoard, SpeechService
from ivr.speech.vad import split_frames
from speechkit.testaudio import silence, speech

RULES = load_rules(Path(__file__).resolve().parents[1] / "fixtures" / "speech" / "classification.yaml")
SAID = "我要举报有人在河里偷偷挖沙"
PROMPT_BYTE = b"\x11\x01"


class ScriptedDecoder:
    """Stands in for Vosk: 'recognises' the sentence the test synthesised."""

    def accept(self, pcm: bytes) -> AsrResult | None:
        return None

    def finish(self) -> AsrResult:
        return AsrResult(SAID, final=True)


async def test_a_call_is_classified_and_posted_under_its_uuid(tmp_path: Path) -> None:
    voice = speech(SAID, tmp_path / "audio")
    call = uuid.uuid4()
    board = ResultBoard()
    with ThreadPoolExecutor(max_workers=1) as pool:
        service = SpeechService(lambda: AsrStream(ScriptedDecoder, pool), RULES, load_ngram_model(),
                                PipelineConfig(), board, prompt=PROMPT_BYTE * 8000)  # a 2 s prompt
        async with AudioSocketServer(service.handle, "127.0.0.1", 0) as server, asyncio.TaskGroup() as tg:
            serve = tg.create_task(server.serve(), name="test-serve")
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            parser = AudioSocketParser()
            events: list[Event] = []

            async def listen() -> None:
                while data := await reader.read(65536):
                    events.extend(parser.feed(data))

            listener = tg.create_task(listen(), name="test-fake-asterisk")
            writer.write(encode_uuid(call))
            caller = silence(600) + voice + silence(3000)
            for frame in split_frames(caller, FRAME_BYTES):  # 5x real time
                if listener.done():
                    break  # the server hung up: the dialplan would carry on now
                try:
                    writer.write(encode_audio(frame))
                    await writer.drain()
                except ConnectionError:
                    break
                await asyncio.sleep(0.004)
            result = await board.wait(call, timeout_s=5)
            async with asyncio.timeout(5):
                await listener
            writer.close()
            serve.cancel()
    assert isinstance(result, PipelineResult)
    assert result.outcome is Outcome.CLASSIFIED
    assert result.classification.domain == "natural_resources"
    assert result.speech_started_ms is not None and 500 <= result.speech_started_ms <= 800
    received = b"".join(e.pcm for e in events if isinstance(e, Audio))
    prompt_sent = received.count(PROMPT_BYTE * 160)  # whole prompt frames that went out
    assert 0 < prompt_sent < 100, "barge-in should cut the 2 s (100-frame) prompt"
    assert isinstance(events[-1], Hangup)


async def test_the_board_waits_times_out_and_forgets_old_calls() -> None:
    board = ResultBoard(keep=2)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    result = PipelineResult(Outcome.NO_SPEECH, Classification.fallback())
    assert await board.wait(first, timeout_s=0.01) is None
    waiter = asyncio.create_task(board.wait(first, timeout_s=2), name="test-wait")
    await asyncio.sleep(0)
    board.post(first, result)
    assert await waiter is result
    board.post(second, result)
    board.post(third, result)
    assert board.get(first) is None
    assert board.get(third) is result


@pytest.mark.parametrize("prompt", [b""])
async def test_no_model_posts_the_general_queue_at_once(prompt: bytes) -> None:
    board = ResultBoard()
    service = SpeechService(None, RULES, None, PipelineConfig(), board, prompt=prompt)
    call = uuid.uuid4()
    async with AudioSocketServer(service.handle, "127.0.0.1", 0) as server, asyncio.TaskGroup() as tg:
        serve = tg.create_task(server.serve(), name="test-serve")
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode_uuid(call) + encode_audio(bytes(FRAME_BYTES)))
        result = await board.wait(call, timeout_s=2)
        writer.close()
        serve.cancel()
    assert result is not None and result.outcome is Outcome.ASR_UNAVAILABLE
    assert result.classification.domain == "general"
