"""The FastAGI codec, fed the bytes Asterisk really sends."""

from __future__ import annotations

import pytest

from ivr.agi.codec import (
    AgiEnvironment,
    AgiHangup,
    AgiParser,
    AgiProtocolError,
    AgiResponse,
    encode_command,
)

ENV = (
    b"agi_network: yes\n"
    b"agi_network_script: route\n"
    b"agi_request: agi://127.0.0.1:4573/route\n"
    b"agi_channel: PJSIP/trunk-00000001\n"
    b"agi_uniqueid: 1700000000.1\n"
    b"agi_callerid: 13812345678\n"
    b"agi_extension: 12396\n"
    b"agi_arg_1: first\n"
    b"agi_arg_2: second\n"
    b"\n"
)


def test_environment_split_across_reads_is_one_event() -> None:
    parser = AgiParser()
    events = []
    for i in range(0, len(ENV), 7):
        events.extend(parser.feed(ENV[i:i + 7]))
    assert len(events) == 1
    env = events[0]
    assert isinstance(env, AgiEnvironment)
    assert env.script == "route"
    assert env.get("extension") == "12396"
    assert env.args == ["first", "second"]


def test_responses_results_and_data() -> None:
    parser = AgiParser()
    parser.feed(ENV)
    events = parser.feed(b"200 result=1\n200 result=0 (timeout) endpos=8000\n"
                         b"200 result=-1\n")
    assert events == [
        AgiResponse(200, "1", None, ["200 result=1"]),
        AgiResponse(200, "0", "timeout", ["200 result=0 (timeout) endpos=8000"]),
        AgiResponse(200, "-1", None, ["200 result=-1"]),
    ]
    assert [e.ok for e in events if isinstance(e, AgiResponse)] == [True, True, False]


def test_multiline_usage_error_is_one_response() -> None:
    parser = AgiParser()
    parser.feed(ENV)
    events = parser.feed(b"520-Invalid command syntax.  Proper usage follows:\n"
                         b"Usage: SET VARIABLE <variablename> <value>\n"
                         b"520 End of proper usage.\n")
    assert len(events) == 1
    response = events[0]
    assert isinstance(response, AgiResponse)
    assert response.code == 520 and not response.ok and len(response.lines) == 3


def test_hangup_notice() -> None:
    parser = AgiParser()
    parser.feed(ENV)
    assert parser.feed(b"HANGUP\n200 result=1\n") == [AgiHangup(),
                                                     AgiResponse(200, "1", None, ["200 result=1"])]


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\n", b"hello\n"])
def test_non_agi_peer_is_a_protocol_error(garbage: bytes) -> None:
    with pytest.raises(AgiProtocolError):
        AgiParser().feed(garbage)


def test_endless_line_is_refused() -> None:
    with pytest.raises(AgiProtocolError):
        AgiParser().feed(b"agi_x: " + b"a" * 10000)


def test_command_quoting() -> None:
    assert encode_command("SET VARIABLE", "X", 'say "hi"') == b'SET VARIABLE "X" "say \\"hi\\""\n'
