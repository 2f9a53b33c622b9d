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


def test_the_packed_decision_reads_back_like_the_dialplan_unpacks_it() -> None:
    from ivr.core.decision_vars import DECISION_FIELDS, PACKED, packed, unescape_fields

    values = {name: f"v{i}" for i, name in enumerate(DECISION_FIELDS)}
    values |= {"HOTLINE_TAGS": "repeat_caller,classified:tax", "HOTLINE_PROMPTS": "a&b",
               "HOTLINE_LISTEN_DIAL": "AudioSocket/127.0.0.1:9092/u-1/c(slin)",
               "HOTLINE_DIAL": 'PJSIP/12366@subcenters', "HOTLINE_QUEUE_RULE": 'odd\\"[x]|y',
               "HOTLINE_TARGET_KIND": "queue", "HOTLINE_EXTRA": "kept"}
    out = packed(values)
    assert list(out) == [PACKED, "HOTLINE_EXTRA", "HOTLINE_TARGET_KIND"]  # the kind last
    assert dict(zip(DECISION_FIELDS, unescape_fields(out[PACKED]), strict=True)) == {
        name: values[name] for name in DECISION_FIELDS}


def test_the_dialplan_unpacks_exactly_the_packed_fields() -> None:
    import re
    from pathlib import Path

    from ivr.core.decision_vars import DECISION_FIELDS

    template = (Path(__file__).resolve().parents[2] / "dialplans" / "extensions.conf.tmpl").read_text()
    (names,) = re.findall(r"Set\(ARRAY\(([^)]*)\)=\$\{HOTLINE_DECISION\}\)", template)
    assert tuple(names.split(",")) == DECISION_FIELDS
