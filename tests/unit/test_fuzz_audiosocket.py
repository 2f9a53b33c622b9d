"""Fuzzing the AudioSocket decoder: only events or AudioSocketError, in any chunking."""

from __future__ import annotations

import time
import uuid

from ivr.speech.audiosocket import (
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
    encode_hangup,
    encode_uuid,
)
from tests.unit.fuzzing import CASES, run

CALL = encode_uuid(uuid.UUID("12345678-1234-5678-1234-567812345678"))
AUDIO = encode_audio(bytes(range(256)) * 2)
CORPUS = [
    CALL + AUDIO + AUDIO + encode_hangup(),
    CALL + encode_dtmf("5") + AUDIO,
    CALL + encode(Kind.ERROR, b"\x01"),
    CALL + AUDIO * 3,
    encode_hangup(),
]


def test_audiosocket_decoder_fuzz() -> None:
    started = time.monotonic()

    def decoder():  # type: ignore[no-untyped-def]
        return AudioSocketParser().feed

    counts = run(CORPUS, decoder, AudioSocketError, (Hangup, CallId, Dtmf, Audio, PeerError))
    assert counts["cases"] == CASES
    assert counts["events"] > 100 and counts["errors"] > 100, counts
    assert time.monotonic() - started < 5
