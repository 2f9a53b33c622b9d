"""Where transfer requests come in: the control API (CLI) and agent feature codes (FastAGI)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ivr.agi.channel import ChannelNotConfirmed
from ivr.agi.server import AgiSession
from ivr.control.protocol import MAX_LINE, encode, error, ok
from ivr.transfers.model import TransferError, TransferMode
from ivr.transfers.service import TransferService

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]

#: ``transfer.list`` pages: at most this many transfers, and never a response line over
#: half the control API's limit (a long history still fits)
PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 500
PAGE_BYTES = MAX_LINE // 2


def page(items: list[dict[str, Any]], offset: int, limit: int) -> dict[str, Any]:
    """``{"items", "offset", "total", "next"}``: ``items[offset:]``, at most ``limit`` of them
    and at most :data:`PAGE_BYTES` of JSON (always one, so paging moves on); ``next`` is the
    offset of the following page, None after the last."""
    chosen: list[dict[str, Any]] = []
    size = 0
    for item in items[offset:offset + limit]:
        item_size = len(encode(item))
        if chosen and size + item_size > PAGE_BYTES:
            break
        chosen.append(item)
        size += item_size
    end = offset + len(chosen)
    return {"items": chosen, "offset": offset, "total": len(items),
            "next": end if end < len(items) else None}


def _count(args: dict[str, Any], name: str, default: int, maximum: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer from 0 to {maximum}")
    return value


class TransferApi:
    """Control-API operations ``transfer.start|cancel|leave|list``."""

    OPERATIONS = ("transfer.start", "transfer.cancel", "transfer.leave", "transfer.list")

    def __init__(self, service: TransferService) -> None:
        self._service = service

    async def handle(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Answer one control request."""
        try:
            if op == "transfer.start":
                transfer = await self._service.start(
                    str(args["target"]), call_id=str(args["call_id"]),
                    mode=TransferMode(args.get("mode", "attended")),
                    summary=args.get("summary"), by="cli")
                return ok(transfer.to_json())
            if op == "transfer.cancel":
                return ok((await self._service.cancel(str(args["call_id"]))).to_json())
            if op == "transfer.leave":
                return ok((await self._service.leave(str(args["call_id"]))).to_json())
            if op == "transfer.list":  # paged: a busy day's list outgrows one control line
                offset = _count(args, "offset", 0, 10**9)
                limit = _count(args, "limit", PAGE_LIMIT, MAX_PAGE_LIMIT) or PAGE_LIMIT
                return ok(page([t.to_json() for t in self._service.transfers()], offset, limit))
        except TransferError as exc:
            return error(str(exc))
        except (KeyError, ValueError) as exc:
            return error(f"bad arguments for {op}: {exc}")
        return error(f"unknown operation {op!r}")


class TransferFeatureCodes:
    """FastAGI ``xfer/<target>/<mode>``: an agent keyed *81, *91… during a call.

    The AGI runs on the agent's channel inside the bridge; the transfer itself starts
    after the AGI returns, because it moves that very channel.  Before that, Asterisk must
    confirm over AMI that the channel the request names is up, runs this AGI and is a
    roster agent's phone: a forged FastAGI request starts nothing.
    """

    def __init__(self, service: TransferService, spawn: Spawn) -> None:
        self._service = service
        self._spawn = spawn

    async def handle(self, session: AgiSession) -> None:
        """Answer the AGI at once, then start the transfer in the background."""
        parts = session.env.script.strip("/").split("/")
        target = parts[1] if len(parts) > 1 else "line"
        try:
            mode = TransferMode(parts[2]) if len(parts) > 2 else TransferMode.ATTENDED
        except ValueError:
            log.warning("bad transfer mode in AGI script %r", session.env.script)
            return
        agent_channel = session.env.get("channel")
        try:
            await self._service.confirm_agent_request(session.env)
        except (ChannelNotConfirmed, TransferError) as exc:
            log.warning("feature-code transfer from %s to %s refused: %s", agent_channel,
                        target, exc)
            return
        self._spawn(self._start(target, agent_channel, mode), f"xfer-{agent_channel}")

    async def _start(self, target: str, agent_channel: str, mode: TransferMode) -> None:
        await asyncio.sleep(0.05)  # let the feature's AGI leave the channel first
        try:
            await self._service.start(target, agent_channel=agent_channel, mode=mode,
                                      by="feature-code")
        except TransferError as exc:
            log.warning("feature-code transfer from %s to %s refused: %s", agent_channel, target, exc)
