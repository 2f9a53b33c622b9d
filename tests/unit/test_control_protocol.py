"""The control API: JSON lines over a Unix socket, as ``hotline transfer`` talks to the controller."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.control.client import ControlUnavailable, call
from ivr.control.protocol import (
    MAX_LINE,
    LineDecoder,
    ProtocolError,
    decode_line,
    encode,
    error,
    ok,
    request,
)
from ivr.control.server import ControlServer, Handler

# --- framing ---------------------------------------------------------------------------------------


def test_encode_is_one_utf8_json_line() -> None:
    line = encode(request("transfer.start", call_id="1763900000.7", target="12366", summary="发票遗失补办"))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert "发票遗失补办".encode() in line  # readable, not \u-escaped
    assert json.loads(line) == {"op": "transfer.start",
                                "args": {"call_id": "1763900000.7", "target": "12366",
                                         "summary": "发票遗失补办"}}


def test_responses() -> None:
    assert ok({"id": "xfer-1"}) == {"ok": True, "result": {"id": "xfer-1"}}
    assert error("no such call") == {"ok": False, "error": "no such call"}


def test_a_line_split_anywhere_is_reassembled() -> None:
    data = encode(request("transfer.list")) + encode(request("transfer.cancel", call_id="1.2"))
    for cut in range(1, len(data)):
        decoder = LineDecoder()
        messages = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert messages == [request("transfer.list"), request("transfer.cancel", call_id="1.2")], cut


def test_byte_by_byte_including_a_split_utf8_character() -> None:
    data = encode(request("transfer.start", summary="税"))
    decoder = LineDecoder()
    messages: list[dict[str, Any]] = []
    for i in range(len(data)):
        messages += decoder.feed(data[i:i + 1])
    assert messages == [request("transfer.start", summary="税")]


def test_several_lines_in_one_read_and_blank_lines_skipped() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b'{"a":1}\n\n  \r\n{"b":2}\n{"c"') == [{"a": 1}, {"b": 2}]
    assert decoder.feed(b":3}\n") == [{"c": 3}]
    assert decoder.feed(b"") == []


def test_crlf_lines_are_accepted() -> None:
    assert LineDecoder().feed(b'{"op":"transfer.list","args":{}}\r\n') == [request("transfer.list")]


@pytest.mark.parametrize("junk", [b"hello\n", b"{not json}\n", b"\xff\xfe\n", b'{"op": "x"\n'])
def test_junk_is_a_protocol_error(junk: bytes) -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        LineDecoder().feed(junk)


@pytest.mark.parametrize("line", [b"[1, 2]", b'"transfer.list"', b"42", b"null"])
def test_json_that_is_not_an_object_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError, match="JSON object"):
        decode_line(line)


def test_an_over_long_line_is_refused_before_it_ends() -> None:
    decoder = LineDecoder()
    decoder.feed(b'{"x":"' + b"a" * (MAX_LINE - 10))  # just under: still waiting
    with pytest.raises(ProtocolError, match=f"longer than {MAX_LINE} bytes"):
        decoder.feed(b"a" * 20)


def test_a_long_line_that_ends_in_time_is_fine() -> None:
    big = encode(request("transfer.start", summary="x" * (MAX_LINE - 100)))
    assert len(big) <= MAX_LINE
    assert LineDecoder().feed(big)[0]["args"]["summary"] == "x" * (MAX_LINE - 100)


# --- server and client -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(handler: Handler, path: Path) -> AsyncIterator[ControlServer]:
    async with ControlServer(handler, path) as server:
        task = asyncio.create_task(server.serve(), name="test-control-serve")
        try:
            yield server
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    path = tmp_path / "run" / "control.sock"  # run/ does not exist yet: the server makes it
    assert len(str(path)) < 100, "AF_UNIX paths are limited to 107 bytes"
    return path


class Recorder:
    """A handler like TransferApi.handle: answers by op, remembers what it was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        self.seen.append((op, args))
        if op == "transfer.start":
            return ok({"id": "xfer-0123456789ab", "call_id": args["call_id"], "target": args["target"]})
        if op == "boom":
            raise RuntimeError("database is locked")
        return error(f"unknown operation {op!r}")


async def test_client_and_server_round_trip(sock: Path) -> None:
    handler = Recorder()
    async with serving(handler, sock):
        response = await asyncio.to_thread(call, sock, "transfer.start", call_id="1763900000.7",
                                           target="12366", summary="发票遗失补办")
    assert response == {"ok": True, "result": {"id": "xfer-0123456789ab", "call_id": "1763900000.7",
                                               "target": "12366"}}
    assert handler.seen == [("transfer.start", {"call_id": "1763900000.7", "target": "12366",
                                                "summary": "发票遗失补办"})]


async def test_the_socket_is_only_for_the_hotline_user_and_goes_away_after(sock: Path) -> None:
    async with serving(Recorder(), sock):
        mode = sock.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
    assert not sock.exists()


async def test_a_stale_socket_from_a_crashed_controller_is_replaced(sock: Path) -> None:
    sock.parent.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # the file stays, nobody listens
    with pytest.raises(ControlUnavailable):
        await asyncio.to_thread(call, sock, "transfer.list", timeout_s=2)
    async with serving(Recorder(), sock):
        response = await asyncio.to_thread(call, sock, "transfer.start", call_id="1", target="110")
    assert response["ok"] is True


async def test_a_handler_that_raises_answers_an_error_and_the_server_keeps_serving(
        sock: Path, caplog: pytest.LogCaptureFixture) -> None:
    handler = Recorder()
    async with serving(handler, sock):
        failed = await asyncio.to_thread(call, sock, "boom")
        after = await asyncio.to_thread(call, sock, "transfer.start", call_id="2", target="12366")
    assert failed == {"ok": False, "error": "internal error: database is locked"}
    assert after["ok"] is True
    assert "control request boom failed" in caplog.text


async def test_an_unknown_operation_is_the_handlers_error(sock: Path) -> None:
    async with serving(Recorder(), sock):
        response = await asyncio.to_thread(call, sock, "transfer.reboot")
    assert response == {"ok": False, "error": "unknown operation 'transfer.reboot'"}


async def test_several_requests_on_one_connection_are_answered_in_order(sock: Path) -> None:
    handler = Recorder()
    async with serving(handler, sock):
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(encode(request("transfer.start", call_id="1", target="a"))
                     + encode(request("nope")) + encode(request("transfer.start", call_id="2", target="b")))
        await writer.drain()
        lines = [json.loads(await reader.readline()) for _ in range(3)]
        writer.close()
        await writer.wait_closed()
    assert [line["ok"] for line in lines] == [True, False, True]
    assert [line["result"]["call_id"] for line in (lines[0], lines[2])] == ["1", "2"]


@pytest.mark.parametrize(("sent", "expected"), [
    (b"this is not json\n", "not JSON"),
    (b'{"args": {}}\n', "a request needs 'op' (string) and 'args' (object)"),
    (b'{"op": "transfer.list", "args": [1]}\n', "a request needs 'op'"),
    (b'{"op": 7}\n', "a request needs 'op'"),
])
async def test_bad_requests_get_an_error_not_a_crash(sock: Path, sent: bytes, expected: str) -> None:
    handler = Recorder()
    async with serving(handler, sock):
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(sent)
        await writer.drain()
        answer = json.loads(await reader.readline())
        writer.close()
        await writer.wait_closed()
        # and the server still answers the next client
        after = await asyncio.to_thread(call, sock, "transfer.start", call_id="3", target="12366")
    assert answer["ok"] is False and expected in answer["error"]
    assert handler.seen == [("transfer.start", {"call_id": "3", "target": "12366"})]
    assert after["ok"] is True


async def test_junk_closes_only_that_connection(sock: Path) -> None:
    async with serving(Recorder(), sock):
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b"GET / HTTP/1.1\r\n")
        await writer.drain()
        answer = json.loads(await reader.readline())
        assert await reader.read() == b""  # the server hung up on the junk
        writer.close()
        await writer.wait_closed()
    assert answer["ok"] is False


async def test_an_over_long_request_is_refused(sock: Path) -> None:
    async with serving(Recorder(), sock):
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b'{"op":"transfer.start","args":{"summary":"' + b"x" * (MAX_LINE + 10))
        await writer.drain()
        answer = json.loads(await reader.readline())
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert answer["ok"] is False and "longer than" in answer["error"]


def test_client_without_a_controller(sock: Path) -> None:
    with pytest.raises(ControlUnavailable, match=r"no controller listening .* is `hotline run` up"):
        call(sock, "transfer.list")


async def test_client_gives_up_on_a_controller_that_does_not_answer(sock: Path) -> None:
    async def stuck(op: str, args: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(30)
        return ok(None)

    async with serving(stuck, sock):
        with pytest.raises(ControlUnavailable, match=r"did not answer .* in 0\.3 s"):
            await asyncio.to_thread(call, sock, "transfer.list", timeout_s=0.3)


async def test_client_when_the_controller_hangs_up_without_answering(sock: Path) -> None:
    sock.parent.mkdir(parents=True)

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.close()

    server = await asyncio.start_unix_server(hang_up, path=str(sock))
    async with server:
        with pytest.raises(ControlUnavailable, match=r"closed .* without answering"):
            await asyncio.to_thread(call, sock, "transfer.list", timeout_s=5)
