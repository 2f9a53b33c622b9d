"""An asyncio AMI client around :class:`AmiParser`.

``connect()`` is an async context manager for one logged-in session;
``sessions()`` yields a fresh session each time Asterisk comes (back) up, with
exponential backoff in between, so a supervisor reads as a plain loop::

    async for ami in sessions(settings):
        await resync(ami)
        async for event in ami.events():
            handle(event)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ivr.ami.codec import AmiBanner, AmiMessage, AmiParser, AmiProtocolError, encode_action

log = logging.getLogger(__name__)


class AmiError(Exception):
    """An action failed or the session ended."""


class AmiLoginError(AmiError):
    """Asterisk refused the credentials."""


@dataclass(frozen=True)
class AmiSettings:
    """Where and how to log in."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "hotline"
    secret: str = ""
    timeout_s: float = 5.0
    events: str = "on"


_CLOSED = AmiMessage((("Event", "__closed__"),))


class AmiConnection:
    """One AMI session: actions by ActionID, events through :meth:`events`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 settings: AmiSettings) -> None:
        self._reader = reader
        self._writer = writer
        self._settings = settings
        self._parser = AmiParser()
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[list[AmiMessage]]] = {}
        self._lists: dict[str, list[AmiMessage]] = {}
        self._events: asyncio.Queue[AmiMessage] = asyncio.Queue(maxsize=10000)
        self._banner = asyncio.get_running_loop().create_future()
        self._reader_task: asyncio.Task[None] | None = None
        self.banner = ""

    async def _start(self) -> None:
        self._reader_task = asyncio.create_task(self._read_loop(), name="ami-reader")
        self.banner = await asyncio.wait_for(self._banner, self._settings.timeout_s)
        response = await self.action("Login", {"Username": self._settings.username,
                                               "Secret": self._settings.secret,
                                               "Events": self._settings.events})
        if response.get("Response") != "Success":
            raise AmiLoginError(response.get("Message", "login refused"))

    @property
    def closed(self) -> bool:
        """True once the reader has stopped."""
        return self._reader_task is None or self._reader_task.done()

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                for frame in self._parser.feed(data):
                    self._dispatch(frame)
        except (ConnectionError, AmiProtocolError) as exc:
            log.warning("AMI connection lost: %s", exc)
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(AmiError("AMI connection closed"))
            if not self._banner.done():
                self._banner.set_exception(AmiError("AMI connection closed before banner"))
            with contextlib.suppress(asyncio.QueueFull):
                self._events.put_nowait(_CLOSED)

    def _dispatch(self, frame: AmiBanner | AmiMessage) -> None:
        if isinstance(frame, AmiBanner):
            if not self._banner.done():
                self._banner.set_result(frame.text)
            return
        action_id = frame.action_id
        if action_id in self._waiting:
            collected = self._lists.get(action_id)
            if collected is None:
                if frame.event is None and frame.get("EventList") == "start":
                    self._lists[action_id] = [frame]
                    return
                self._waiting.pop(action_id).set_result([frame])
                return
            collected.append(frame)
            if frame.get("EventList") == "Complete" or (frame.event or "").endswith("Complete"):
                del self._lists[action_id]
                self._waiting.pop(action_id).set_result(collected)
            return
        if frame.event is not None:
            try:
                self._events.put_nowait(frame)
            except asyncio.QueueFull:
                log.error("AMI event queue full; dropping %s", frame.event)

    async def _send(self, action: str, fields: dict[str, str] | None,
                    variables: dict[str, str] | None) -> list[AmiMessage]:
        if self.closed and self._reader_task is not None:
            raise AmiError("AMI connection closed")
        action_id = f"hl-{next(self._ids)}"
        future: asyncio.Future[list[AmiMessage]] = asyncio.get_running_loop().create_future()
        self._waiting[action_id] = future
        self._writer.write(encode_action(action, action_id, fields, variables))
        try:
            await self._writer.drain()
            return await asyncio.wait_for(future, self._settings.timeout_s)
        finally:
            self._waiting.pop(action_id, None)
            self._lists.pop(action_id, None)

    async def action(self, action: str, fields: dict[str, str] | None = None,
                     variables: dict[str, str] | None = None) -> AmiMessage:
        """Send an action; return its response (the first message of a list)."""
        return (await self._send(action, fields, variables))[0]

    async def action_list(self, action: str,
                          fields: dict[str, str] | None = None) -> list[AmiMessage]:
        """Send a list action (``CoreShowChannels``…); return the events of the list."""
        messages = await self._send(action, fields, None)
        return [m for m in messages[1:] if m.get("EventList") != "Complete"]

    async def command(self, command: str) -> str:
        """Run a CLI command; return its output."""
        response = await self.action("Command", {"Command": command})
        return "\n".join(response.get_all("Output"))

    async def events(self) -> AsyncIterator[AmiMessage]:
        """Events in arrival order; ends when the connection closes."""
        while True:
            event = await self._events.get()
            if event is _CLOSED:
                return
            yield event

    async def close(self) -> None:
        """Log off and close."""
        if not self.closed:
            with contextlib.suppress(AmiError, ConnectionError, TimeoutError):
                await asyncio.wait_for(self.action("Logoff"), 1.0)
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task


@contextlib.asynccontextmanager
async def connect(settings: AmiSettings) -> AsyncIterator[AmiConnection]:
    """One logged-in AMI session, closed on exit."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(settings.host, settings.port), settings.timeout_s)
    connection = AmiConnection(reader, writer, settings)
    try:
        await connection._start()
        yield connection
    finally:
        await connection.close()


async def sessions(settings: AmiSettings, min_delay_s: float = 0.2,
                   max_delay_s: float = 5.0) -> AsyncIterator[AmiConnection]:
    """Yield a logged-in session each time one can be made; back off between tries."""
    delay = min_delay_s
    while True:
        try:
            async with connect(settings) as connection:
                log.info("AMI connected to %s:%s (%s)", settings.host, settings.port,
                         connection.banner)
                delay = min_delay_s
                yield connection
            log.warning("AMI session ended; reconnecting")
        except (OSError, TimeoutError, AmiError, AmiProtocolError) as exc:
            log.info("AMI not available (%s); retrying in %.1fs", exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay_s)
