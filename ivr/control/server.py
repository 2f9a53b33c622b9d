"""A thin asyncio Unix-socket server around :mod:`ivr.control.protocol`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from ivr.control.protocol import LineDecoder, ProtocolError, encode, error

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlServer:
    """``async with ControlServer(handler, path) as server: await server.serve()``."""

    def __init__(self, handler: Handler, path: Path) -> None:
        self._handler = handler
        self._path = path
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> ControlServer:
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        # only the hotline's own user may drive transfers: the socket is 0600 from its
        # creation (a narrower umask for the bind), not chmod-ed after a window
        previous = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._connection,
                                                           path=str(self._path))
        finally:
            os.umask(previous)
        os.chmod(self._path, 0o600)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    async def serve(self) -> None:
        """Serve until cancelled."""
        assert self._server is not None, "use `async with`"
        await self._server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = LineDecoder()
        try:
            while data := await reader.read(65536):
                try:
                    messages = decoder.feed(data)
                except ProtocolError as exc:
                    writer.write(encode(error(str(exc))))
                    break
                for message in messages:
                    writer.write(encode(await self._answer(message)))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, message: dict[str, Any]) -> dict[str, Any]:
        op, args = message.get("op"), message.get("args", {})
        if not isinstance(op, str) or not isinstance(args, dict):
            return error("a request needs 'op' (string) and 'args' (object)")
        try:
            return await self._handler(op, args)
        except Exception as exc:  # a bug in one request must not stop the API
            log.exception("control request %s failed", op)
            return error(f"internal error: {exc}")
