"""The AudioSocket codec on byte streams: whole, split, truncated and malformed."""

from __future__ import annotations

import uuid

import pytest

from ivr.speech.audiosocket import (
    FRAME_BYTES,
    SILENCE_FRAME,
    Audio,
    AudioSocketError,
    AudioSocketParser,
    CallId,
    Dtmf,
    Hangup,
    Kind,
    PeerError,
    encode,
    encode_audio,
    encode_dtmf,
    encode_error,
    encode_hangup,
    encode_uuid,
)

CALL = uuid.UUID("40325ec2-5efd-4bd3-805f-53576e581d13")
PCM = bytes(range(256)) + bytes(64)  # 320 bytes, not silence
STREAM = (encode_uuid(CALL) + encode_audio(PCM) + encode_dtmf("5") + encode_audio(SILENCE_FRAME)
          + encode_dtmf("#") + encode_hangup())
EXPECTED = [CallId(CALL), Audio(PCM), Dtmf("5"), Audio(SILENCE_FRAME), Dtmf("#"), Hangup()]


def test_header_layout_matches_the_protocol() -> None:
    assert encode_hangup() == b"\x00\x00\x00"
    assert encode_uuid(CALL) == b"\x01\x00\x10" + CALL.bytes
    assert encode_dtmf("7") == b"\x03\x00\x017"
    assert encode_audio(SILENCE_FRAME)[:3] == b"\x10\x01\x40"  # 320, big-endian
    assert encode_error(0x02) == b"\xff\x00\x01\x02"


def test_a_whole_session_in_one_read() -> None:
    assert AudioSocketParser().feed(STREAM) == EXPECTED


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 323])
def test_any_chunking_gives_the_same_events(chunk: int) -> None:
    parser = AudioSocketParser()
    events = []
    for i in range(0, len(STREAM), chunk):
        events.extend(parser.feed(STREAM[i:i + chunk]))
    assert events == EXPECTED


def test_a_truncated_frame_waits_for_the_rest() -> None:
    parser = AudioSocketParser()
    frame = encode_audio(PCM)
    assert parser.feed(frame[:2]) == []  # half a header
    assert parser.feed(frame[2:100]) == []  # header and part of the payload
    assert parser.buffered == 100
    assert parser.feed(frame[100:]) == [Audio(PCM)]
    assert parser.buffered == 0


def test_audio_duration_and_wider_rates() -> None:
    assert Audio(bytes(FRAME_BYTES)).duration_ms == 20
    parser = AudioSocketParser()
    [event] = parser.feed(encode_audio(bytes(640), 16000))
    assert event == Audio(bytes(640), 16000)
    assert event.duration_ms == 20


def test_peer_error_codes() -> None:
    events = AudioSocketParser().feed(encode_uuid(CALL) + encode_error(0x01) + encode_error())
    assert events[1:] == [PeerError(1, b"\x01"), PeerError(None, b"")]
    assert isinstance(events[1], PeerError)
    assert events[1].description == "calling party hung up"
    assert PeerError(0x42).description == "application error 0x42"


def test_bytes_after_hangup_are_ignored() -> None:
    parser = AudioSocketParser()
    assert parser.feed(encode_hangup() + encode_audio(PCM)) == [Hangup()]
    assert parser.closed
    assert parser.feed(b"\xde\xad") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x42\x00\x00", "unknown message kind 0x42"),
        (b"\x01\x00\x04abcd", "UUID payload must be 16 bytes"),
        (b"\x03\x00\x02" + b"12", "DTMF payload must be 1 byte"),
        (b"\x03\x00\x01" + b"x", "not a DTMF digit"),
        (b"\x00\x00\x01" + b"x", "hangup payload must be empty"),
        (b"\x10\x00\x00", "non-empty whole number of samples"),
        (b"\x10\x00\x03abc", "non-empty whole number of samples"),
    ],
)
def test_malformed_messages_are_errors(data: bytes, message: str) -> None:
    with pytest.raises(AudioSocketError, match=message):
        AudioSocketParser().feed(data)


def test_an_oversized_frame_fails_on_its_header() -> None:
    parser = AudioSocketParser(max_audio=4096)
    header_only = b"\x10\x20\x00"  # announces 8192 bytes; the payload never has to arrive
    with pytest.raises(AudioSocketError, match="exceeds the 4096-byte limit"):
        parser.feed(header_only)


def test_good_events_before_a_bad_message_are_kept_and_the_parser_stays_failed() -> None:
    parser = AudioSocketParser()
    with pytest.raises(AudioSocketError) as caught:
        parser.feed(encode_uuid(CALL) + encode_audio(PCM) + b"\x7f\x00\x00")
    assert caught.value.events == [CallId(CALL), Audio(PCM)]
    with pytest.raises(AudioSocketError, match="already failed"):
        parser.feed(encode_audio(PCM))


def test_encoders_refuse_what_asterisk_would_reject() -> None:
    with pytest.raises(ValueError):
        encode_audio(b"")
    with pytest.raises(ValueError):
        encode_audio(b"\x00")
    with pytest.raises(ValueError):
        encode_audio(bytes(320), 11025)
    with pytest.raises(ValueError):
        encode_dtmf("x")
    with pytest.raises(ValueError):
        encode(Kind.ERROR, bytes(70000))
    with pytest.raises(ValueError):
        AudioSocketParser(max_audio=1)
