"""A FastAGI server: one asyncio task per Asterisk connection, around :class:`AgiParser`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ivr.agi.codec import (
    AgiEnvironment,
    AgiEvent,
    AgiHangup,
    AgiParser,
    AgiProtocolError,
    AgiResponse,
    encode_command,
)
from ivr.tcpserver import TcpListener

log = logging.getLogger(__name__)


class AgiHangupError(Exception):
    """The channel hung up while a command was outstanding."""


class AgiSession:
    """One FastAGI conversation: the environment plus a command/response channel."""

    def __init__(
        self, env: AgiEnvironment, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        parser: AgiParser, pending: list[AgiEvent],
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._parser = parser
        self._pending = pending

    async def command(self, command: str, *args: str) -> AgiResponse:
        """Send one command and wait for its response."""
        self._writer.write(encode_command(command, *args))
        await self._writer.drain()
        while True:
            while self._pending:
                event = self._pending.pop(0)
                if isinstance(event, AgiHangup):
                    continue  # results still follow after a HANGUP notice
                if isinstance(event, AgiResponse):
                    return event
            data = await self._reader.read(4096)
            if not data:
                raise AgiHangupError("Asterisk closed the AGI connection")
            self._pending.extend(self._parser.feed(data))

    async def set_variable(self, name: str, value: str) -> None:
        """``SET VARIABLE``; raises if Asterisk refuses."""
        response = await self.command("SET VARIABLE", name, value)
        if not response.ok:
            raise AgiProtocolError(f"SET VARIABLE {name} refused: {response.lines}")


Handler = Callable[[AgiSession], Awaitable[None]]


async def read_environment(
    reader: asyncio.StreamReader, parser: AgiParser
) -> tuple[AgiEnvironment, list[AgiEvent]]:
    """Read until the environment block is complete (EOF is an error, not a hang)."""
    while True:
        data = await reader.read(4096)
        if not data:
            raise AgiProtocolError("connection closed before the AGI environment ended")
        events = parser.feed(data)
        if events and isinstance(events[0], AgiEnvironment):
            return events[0], events[1:]


class FastAgiServer(TcpListener):
    """``async with FastAgiServer(handler, host, port) as server: await server.serve()``.

    A handler that raises or overruns ``timeout_s`` gets its connection closed, which
    makes Asterisk set ``AGISTATUS=FAILURE`` and the dialplan take the fallback path.
    """

    protocol = "FastAGI"

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 4573,
                 timeout_s: float = 2.0) -> None:
        super().__init__(host, port)
        self._handler = handler
        self._timeout_s = timeout_s

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        parser = AgiParser()
        try:
            async with asyncio.timeout(self._timeout_s):
                env, pending = await read_environment(reader, parser)
                await self._handler(AgiSession(env, reader, writer, parser, pending))
        except TimeoutError:
            log.error("AGI handler overran %.1fs; closing so the call takes the fallback",
                      self._timeout_s)
        except (AgiProtocolError, AgiHangupError, ConnectionError) as exc:
            log.warning("AGI session ended early: %s", exc)
        except Exception:
            log.exception("AGI handler failed; the call takes the fallback path")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
