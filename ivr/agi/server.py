"""A FastAGI server: one asyncio task per Asterisk connection, around :class:`AgiParser`."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

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
        return await self._response()

    async def set_variable(self, name: str, value: str) -> None:
        """``SET VARIABLE``; raises if Asterisk refuses."""
        response = await self.command("SET VARIABLE", name, value)
        if not response.ok:
            raise AgiProtocolError(f"SET VARIABLE {name} refused: {response.lines}")

    async def set_variables(self, variables: Mapping[str, str]) -> None:
        """``SET VARIABLE`` for each, in order (a variable set last is set last).

        One command at a time: Asterisk reads AGI commands through a buffered stream but
        waits for the socket to be readable before each, so commands written ahead of
        their turn sit in its buffer unseen until the budget runs out (measured: 2 s
        INVITE→200 with pipelining, bench/load.py)."""
        for name, value in variables.items():
            await self.set_variable(name, value)

    async def _response(self) -> AgiResponse:
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


Handler = Callable[[AgiSession], Awaitable[None]]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowList:
    """The FastAGI peers served: addresses or networks (``127.0.0.1``, ``10.1.2.0/24``, ``::1``).

    The default is loopback as Asterisk connects from it (``127.0.0.1`` and ``::1``): a
    local process bound to another loopback address (127.0.0.2) is refused too.
    """

    networks: tuple[IpNetwork, ...]

    @classmethod
    def loopback(cls) -> AllowList:
        """127.0.0.1 and ::1."""
        return cls.parse("127.0.0.1,::1")

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> AllowList:
        """From ``"a,b/n"`` or a list of such items; :class:`ValueError` naming a bad one."""
        items = text.split(",") if isinstance(text, str) else list(text)
        networks: list[IpNetwork] = []
        for item in (i.strip() for i in items):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {item!r}") from None
        if not networks:
            raise ValueError("the FastAGI allow-list is empty: no call could be routed")
        return cls(tuple(networks))

    def allows(self, peer: object) -> bool:
        """Whether the ``peername`` of a connection is on the list (IPv4-mapped IPv6 too)."""
        if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
            return False
        try:
            address = ipaddress.ip_address(peer[0].partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == n.version and address in n for n in self.networks)

    def __str__(self) -> str:
        return ",".join(str(n) for n in self.networks)


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
    So does a peer not on ``allow`` (closed before anything is read) and an environment
    the parser refuses (a duplicated key, an oversize block): that call alone falls back,
    and the log says why.
    """

    protocol = "FastAGI"

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 4573,
                 timeout_s: float = 2.0, allow: AllowList | None = None) -> None:
        super().__init__(host, port)
        self._handler = handler
        self._timeout_s = timeout_s
        self._allow = allow if allow is not None else AllowList.loopback()
        self.refused = 0
        """Connections refused (peer not allowed), for tests and metrics."""

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not self._allow.allows(peer):
            self.refused += 1
            log.warning("FastAGI connection from %s refused: not on the allow-list (%s)",
                        peer[0] if isinstance(peer, tuple) and peer else peer, self._allow)
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
            return
        parser = AgiParser()
        try:
            async with asyncio.timeout(self._timeout_s):
                env, pending = await read_environment(reader, parser)
                await self._handler(AgiSession(env, reader, writer, parser, pending))
        except TimeoutError:
            log.error("AGI handler overran %.1fs; closing so the call takes the fallback",
                      self._timeout_s)
        except AgiProtocolError as exc:
            log.warning("AGI request from %s refused (%s); that call takes the fallback path",
                        peer[0] if isinstance(peer, tuple) and peer else peer, exc)
        except (AgiHangupError, ConnectionError) as exc:
            log.warning("AGI session ended early: %s", exc)
        except Exception:
            log.exception("AGI handler failed; the call takes the fallback path")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
