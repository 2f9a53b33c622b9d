"""Fuzzing the FastAGI decoder: whatever a peer sends, only events or AgiProtocolError."""

from __future__ import annotations

import time

from ivr.agi.codec import AgiEnvironment, AgiHangup, AgiParser, AgiProtocolError, AgiResponse
from tests.unit.fuzzing import CASES, run

ENV = (b"agi_network: yes\nagi_network_script: route\nagi_request: agi://127.0.0.1:4573/route\n"
       b"agi_channel: PJSIP/trunk-00000001\nagi_language: zh\nagi_type: PJSIP\n"
       b"agi_uniqueid: 1763900000.1\nagi_version: 22.1.0\nagi_callerid: 13800138000\n"
       b"agi_calleridname: \xe5\xbc\xa0\xe4\xb8\x89\nagi_dnid: 12345\nagi_context: from-trunk\n"
       b"agi_extension: 12345\nagi_priority: 2\nagi_arg_1: x\n\n")
CORPUS = [
    ENV,
    ENV + b"200 result=1\n",
    ENV + b"200 result=0 (timeout) endpos=1234\nHANGUP\n200 result=-1\n",
    ENV + b"520-Invalid command syntax.  Proper usage follows:\nUsage: foo\n520 End of proper usage.\n",
    ENV + b"510 Invalid or unknown command\n",
]


def test_agi_decoder_fuzz() -> None:
    started = time.monotonic()

    def decoder():  # type: ignore[no-untyped-def]
        return AgiParser().feed

    counts = run(CORPUS, decoder, AgiProtocolError, (AgiEnvironment, AgiResponse, AgiHangup))
    assert counts["cases"] == CASES
    assert counts["events"] > 100 and counts["errors"] > 100, counts
    assert time.monotonic() - started < 5


def test_environment_never_holds_a_duplicated_key() -> None:
    """Mutations that duplicate a line must be refused, never override what came first."""
    for key in (b"agi_channel", b"agi_network_script", b"agi_uniqueid"):
        forged = ENV.replace(b"\n\n", b"\n" + key + b": PJSIP/agent-1001-00000001\n\n")
        parser = AgiParser()
        try:
            parser.feed(forged)
        except AgiProtocolError as exc:
            assert "duplicate" in str(exc)
        else:
            raise AssertionError(f"duplicate {key!r} accepted")
