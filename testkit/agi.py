"""A FastAGI client that plays Asterisk's side of a request (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import shlex

from ivr.core.decision_vars import DECISION_FIELDS, PACKED, unescape_fields


async def agi_request(port: int, script: str, *, host: str = "127.0.0.1",
                      env: dict[str, str] | None = None, timeout_s: float = 5.0
                      ) -> dict[str, str]:
    """Send one FastAGI request like Asterisk does; answer every command ``200 result=1``.

    Returns the channel variables the controller set (``SET VARIABLE``), in order, with
    ``HOTLINE_DECISION`` unpacked the way the dialplan's ``ARRAY()`` does.
    """
    variables: dict[str, str] = {}
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = {"agi_network": "yes", "agi_network_script": script,
                 "agi_request": f"agi://{host}:{port}/{script}", "agi_channel": "PJSIP/trunk-0001",
                 "agi_uniqueid": "1700000000.1", "agi_callerid": "13800138000",
                 "agi_extension": "12345", "agi_dnid": "12345", **(env or {})}
        writer.write("".join(f"{k}: {v}\n" for k, v in lines.items()).encode() + b"\n")
        await writer.drain()
        async with asyncio.timeout(timeout_s):
            while line := await reader.readline():
                words = shlex.split(line.decode().strip())
                if words[:2] == ["SET", "VARIABLE"] and len(words) >= 4:
                    variables[words[2]] = words[3]
                writer.write(b"200 result=1\n")
                await writer.drain()
    finally:
        writer.close()
    if PACKED in variables:
        variables.update(zip(DECISION_FIELDS, unescape_fields(variables[PACKED]), strict=True))
    return variables
