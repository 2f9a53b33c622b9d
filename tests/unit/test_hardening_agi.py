"""FastAGI: only allowed peers, no duplicated or oversize environments; the call that
was refused takes the dialplan's fallback (the connection closes with nothing set)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr.agi.codec import MAX_ENVIRONMENT, AgiParser, AgiProtocolError, encode_command, quote
from ivr.agi.server import AgiSession, AllowList, FastAgiServer

ENV = b"agi_network: yes\nagi_network_script: agent\nagi_channel: PJSIP/agent-1001-00000001\n"


def test_allow_list_parsing_and_matching() -> None:
    default = AllowList.loopback()
    assert default.allows(("127.0.0.1", 40000)) and default.allows(("::1", 40000, 0, 0))
    assert default.allows(("::ffff:127.0.0.1", 40000, 0, 0))
    assert not default.allows(("127.0.0.2", 40000))
    assert not default.allows(("10.0.0.5", 40000)) and not default.allows(None)
    custom = AllowList.parse("10.1.2.0/24, 192.0.2.7")
    assert custom.allows(("10.1.2.99", 1)) and custom.allows(("192.0.2.7", 1))
    assert not custom.allows(("127.0.0.1", 1)) and not custom.allows(("fe80::1%eth0", 1))
    assert str(custom) == "10.1.2.0/24,192.0.2.7/32"
    with pytest.raises(ValueError, match="not an IP address"):
        AllowList.parse("localhost")
    with pytest.raises(ValueError, match="empty"):
        AllowList.parse(" , ")


@pytest.mark.parametrize("key", [b"agi_channel", b"agi_network_script", b"agi_arg_1"])
def test_a_duplicated_key_is_refused(key: bytes) -> None:
    env = ENV + b"agi_arg_1: login\n" + key + b": other\n\n"
    with pytest.raises(AgiProtocolError, match="duplicate AGI environment key"):
        AgiParser().feed(env)


def test_an_oversize_environment_is_refused() -> None:
    lines = b"".join(b"agi_arg_%d: %s\n" % (i, b"x" * 100) for i in range(1, 200))
    with pytest.raises(AgiProtocolError, match="AGI environment larger than"):
        AgiParser().feed(ENV + lines + b"\n")
    assert len(ENV + lines) > MAX_ENVIRONMENT
    parser = AgiParser()  # in small pieces too
    with pytest.raises(AgiProtocolError, match="AGI environment larger than"):
        for i in range(0, len(lines), 7):
            parser.feed(lines[i:i + 7])


@pytest.mark.parametrize("line", [b"agi_: x", b"agi_a b: x", b"agi_\xe7\x94\xb5: x", b"x_channel: y"])
def test_odd_keys_are_refused(line: bytes) -> None:
    with pytest.raises(AgiProtocolError, match="not an AGI environment line"):
        AgiParser().feed(line + b"\n\n")


def test_commands_cannot_break_their_line() -> None:
    assert quote("a\r\nb") == '"a  b"'
    with pytest.raises(ValueError):
        encode_command("SET VARIABLE\nHANGUP")


async def _exchange(port: int, data: bytes, local: str = "127.0.0.1") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 2)
    except ConnectionResetError:  # closed with our bytes unread
        return b""
    finally:
        writer.close()


async def test_server_refuses_a_peer_off_the_list_and_forged_environments(
        caplog: pytest.LogCaptureFixture) -> None:
    handled: list[str] = []

    async def handler(session: AgiSession) -> None:
        handled.append(session.env.get("channel"))
        await session.set_variable("HOTLINE_AGENT_RESULT", "ok")

    caplog.set_level(logging.WARNING)
    async with FastAgiServer(handler, "127.0.0.1", 0, allow=AllowList.parse("127.0.0.1")) as agi:
        task = asyncio.create_task(agi.serve())
        try:
            # the allowed peer is served
            reply = await _exchange(agi.port, ENV + b"\n200 result=1\n")
            assert reply.startswith(b"SET VARIABLE")
            # another loopback address: closed before anything is read
            assert await _exchange(agi.port, ENV + b"\n", local="127.0.0.2") == b""
            assert agi.refused == 1 and "127.0.0.2 refused: not on the allow-list" in caplog.text
            # a duplicated key: that call alone gets nothing (the dialplan falls back)
            forged = ENV + b"agi_channel: PJSIP/agent-1002-00000009\n\n"
            assert await _exchange(agi.port, forged) == b""
            assert "duplicate AGI environment key 'agi_channel'" in caplog.text
            assert handled == ["PJSIP/agent-1001-00000001"]
        finally:
            task.cancel()
