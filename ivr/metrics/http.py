"""A minimal asyncio HTTP server for ``GET /metrics`` (Prometheus text format).

One request per connection (``Connection: close``), headers capped at 8 KiB and 5 s; the
exposition is rendered in a thread so a scrape never holds the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 8192
READ_TIMEOUT_S = 5.0
BIND_RETRY_S = 10.0


def _response(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


class MetricsServer:
    """Serves ``registry`` at ``/metrics`` on ``host:port``."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self.registry = registry
        self.host = host
        self.port = port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(line) != 3 or not line[2].startswith("HTTP/"):
                reply = _response("400 Bad Request", b"bad request\n")
            elif line[0] not in ("GET", "HEAD"):
                reply = _response("405 Method Not Allowed", b"GET /metrics\n")
            elif line[1].split("?", 1)[0] != "/metrics":
                reply = _response("404 Not Found", b"see /metrics\n")
            else:
                body = await asyncio.to_thread(generate_latest, self.registry)
                reply = _response("200 OK", b"" if line[0] == "HEAD" else body, CONTENT_TYPE_LATEST)
            writer.write(reply)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def serve(self) -> None:
        """Listen until cancelled.  A port already taken (another controller on this host)
        is logged once and retried every ``BIND_RETRY_S``: metrics never stop a call."""
        warned = False
        while True:
            try:
                server = await asyncio.start_server(self._handle, self.host, self.port,
                                                    limit=MAX_HEADER_BYTES)
            except OSError as exc:
                (log.debug if warned else log.warning)(
                    "metrics: cannot listen on %s:%d (%s); retrying every %.0f s",
                    self.host, self.port, exc.strerror or exc, BIND_RETRY_S)
                warned = True
                await asyncio.sleep(BIND_RETRY_S)
                continue
            log.info("metrics: serving http://%s:%d/metrics", self.host, self.port)
            async with server:
                await server.serve_forever()
