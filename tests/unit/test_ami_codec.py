"""The AMI codec, replaying a recorded Asterisk 22 session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.ami.codec import AmiBanner, AmiMessage, AmiParser, AmiProtocolError, encode_action

FIXTURE = Path(__file__).parent.parent / "fixtures" / "ami" / "login_and_channels.txt"


def recorded() -> bytes:
    return FIXTURE.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_recorded_session_in_small_chunks() -> None:
    data = recorded()
    parser = AmiParser()
    frames = []
    for i in range(0, len(data), 13):
        frames.extend(parser.feed(data[i:i + 13]))
    assert isinstance(frames[0], AmiBanner)
    messages = [f for f in frames if isinstance(f, AmiMessage)]
    assert messages[0]["Response"] == "Success"
    assert [m.event for m in messages if m.event] == [
        "FullyBooted", "CoreShowChannel", "CoreShowChannelsComplete", "UserEvent"]
    user = messages[-1]
    assert user["UserEvent"] == "HotlinePromptsDone"
    assert user.get("prompts") == "hotline/generated/greeting"  # keys are case-insensitive


def test_repeated_keys_kept_in_order() -> None:
    parser = AmiParser()
    parser.feed(b"Asterisk Call Manager/9.0.0\r\n")
    (message,) = parser.feed(b"Response: Success\r\nActionID: 1\r\nOutput: a\r\nOutput: b\r\n\r\n")
    assert isinstance(message, AmiMessage)
    assert message.get_all("Output") == ["a", "b"]


def test_not_ami() -> None:
    with pytest.raises(AmiProtocolError):
        AmiParser().feed(b"SSH-2.0-OpenSSH\r\n")


def test_encode_action_refuses_injection() -> None:
    assert encode_action("Ping", "7") == b"Action: Ping\r\nActionID: 7\r\n\r\n"
    with pytest.raises(ValueError):
        encode_action("Originate", "8", {"Channel": "PJSIP/x\r\nAction: Logoff"})
