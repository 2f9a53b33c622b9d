"""The lifecycle shared by the controller's TCP servers (FastAGI, AudioSocket)."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)


class TcpListener:
    """Bind on ``async with``, serve until cancelled, close on exit.

    Subclasses implement :meth:`_connection`, one call per accepted connection.
    """

    protocol = "TCP"

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._connection, self._host, self._port,
                                                  reuse_address=True)
        log.info("%s listening on %s:%s", self.protocol, self._host, self.port)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def serve(self) -> None:
        """Serve until cancelled."""
        assert self._server is not None
        await self._server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError
