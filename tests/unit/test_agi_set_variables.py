"""SET VARIABLE for several variables: one at a time, in order, a refusal named."""

from __future__ import annotations

import asyncio

import pytest

from ivr.agi.codec import AgiParser, AgiProtocolError
from ivr.agi.server import AgiSession, read_environment

ENV = b"agi_network_script: route\nagi_uniqueid: 1.1\n\n"


class Asterisk:
    """Answers each command line only after it was written (no pipelining, like res_agi)."""

    def __init__(self, reader: asyncio.StreamReader, replies: list[bytes]) -> None:
        self.reader = reader
        self.replies = replies
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    async def drain(self) -> None:
        self.reader.feed_data(self.replies.pop(0))


async def session_with(replies: list[bytes]) -> tuple[AgiSession, Asterisk]:
    reader = asyncio.StreamReader()
    reader.feed_data(ENV)
    parser = AgiParser()
    env, pending = await read_environment(reader, parser)
    asterisk = Asterisk(reader, replies)
    return AgiSession(env, reader, asterisk, parser, pending), asterisk  # type: ignore[arg-type]


async def test_each_variable_is_one_command_in_order() -> None:
    session, asterisk = await session_with([b"200 result=1\n"] * 3)
    await session.set_variables({"HOTLINE_QUEUE": "hl-tax", "HOTLINE_PROMPTS": "a&b",
                                 "HOTLINE_TARGET_KIND": "queue"})
    names = [line.decode().split()[2].strip('"') for line in asterisk.written]
    assert names == ["HOTLINE_QUEUE", "HOTLINE_PROMPTS", "HOTLINE_TARGET_KIND"]


async def test_a_refused_variable_is_named_and_stops_the_rest() -> None:
    session, asterisk = await session_with([b"200 result=1\n", b"510 Invalid or unknown command\n",
                                            b"200 result=1\n"])
    with pytest.raises(AgiProtocolError, match="HOTLINE_PROMPTS"):
        await session.set_variables({"HOTLINE_QUEUE": "hl-tax", "HOTLINE_PROMPTS": "x",
                                     "HOTLINE_TARGET_KIND": "queue"})
    assert len(asterisk.written) == 2  # the kind, set last, never came: no decision
