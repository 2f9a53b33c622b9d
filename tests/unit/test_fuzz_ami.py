"""Fuzzing the AMI decoder: whatever Asterisk (or an impostor) sends, only frames or
AmiProtocolError; the recorded Asterisk 22 session is the seed corpus."""

from __future__ import annotations

import time
from pathlib import Path

from ivr.ami.codec import AmiBanner, AmiMessage, AmiParser, AmiProtocolError
from tests.unit.fuzzing import CASES, run

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ami" / "login_and_channels.txt"


def corpus() -> list[bytes]:
    session = FIXTURE.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    banner, _, rest = session.partition(b"\r\n")
    blocks = [b + b"\r\n\r\n" for b in rest.split(b"\r\n\r\n") if b.strip()]
    return [session[:4000]] + [banner + b"\r\n" + b for b in blocks[:20]]


def test_ami_decoder_fuzz() -> None:
    started = time.monotonic()

    def decoder():  # type: ignore[no-untyped-def]
        return AmiParser().feed

    counts = run(corpus(), decoder, AmiProtocolError, (AmiBanner, AmiMessage))
    assert counts["cases"] == CASES
    assert counts["events"] > 100 and counts["errors"] > 100, counts
    assert time.monotonic() - started < 5
