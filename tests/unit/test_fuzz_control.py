"""Fuzzing the control API decoder: only messages or ProtocolError, including the inputs
that used to escape (deep nesting, huge integers, lone surrogates, NaN)."""

from __future__ import annotations

import time

import pytest

from ivr.control.protocol import MAX_LINE, LineDecoder, ProtocolError, encode, request
from tests.unit.fuzzing import CASES, run

CORPUS = [
    encode(request("transfer.start", call_id="1763900000.1", target="110", mode="stay",
                   summary="来电人 13800138000 反映")),
    encode(request("transfer.list", offset=50, limit=50)),
    encode(request("transfer.cancel", call_id="1.2")) + encode(request("transfer.leave", call_id="3")),
    b'{"op":"transfer.list","args":{"a":[1,2,{"b":[true,false,null,1.5e3]}]}}\r\n',
]


def test_control_decoder_fuzz() -> None:
    started = time.monotonic()

    def decoder():  # type: ignore[no-untyped-def]
        return LineDecoder().feed

    counts = run(CORPUS, decoder, ProtocolError, (dict,))
    assert counts["cases"] == CASES
    assert counts["events"] > 100 and counts["errors"] > 100, counts
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("line", [
    b"[" * 100_000 + b"]" * 100_000,                     # RecursionError in json
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"op":"x","args":{"n":' + b"9" * 5000 + b"}}",    # int() digit limit
    b'{"op":"x","args":{"s":"\\ud800"}}',                # a lone surrogate
    b'{"op":"\\udfff","args":{}}',
    b'{"op":"x","args":{"n":NaN}}',
    b'{"op":"x","args":{"n":1e999}}',
    b'{"op":"x","op":"y","args":{}}',                    # duplicate key
    b"\xef\xbb\xbf{}",                                   # BOM
    b'"\xff"',
])
def test_inputs_that_used_to_escape_are_protocol_errors(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        LineDecoder().feed(line[:MAX_LINE] + b"\n")


def test_a_line_over_the_limit_in_one_piece_is_refused() -> None:
    with pytest.raises(ProtocolError, match="longer than"):
        LineDecoder().feed(b'{"op":"' + b"x" * (MAX_LINE + 10) + b'"}\n')


def test_responses_with_lone_surrogates_still_encode() -> None:
    assert encode({"ok": True, "result": "a\ud800b"}) == b'{"ok":true,"result":"a?b"}\n'
