"""Clients other than the controller's: a department's, and the operator's event tail."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import aiomqtt

from ivr.mqtt.settings import MqttRules


def client_for(rules: MqttRules, username: str, password: str, identifier: str | None = None,
               clean_session: bool = True, host: str | None = None,
               port: int | None = None) -> aiomqtt.Client:
    """An aiomqtt client for ``username`` on the configured broker (TLS when configured)."""
    tls: dict[str, Any] = {}
    if rules.tls.enabled:
        context = ssl.create_default_context(cafile=rules.tls.ca_file)
        if rules.tls.insecure:
            context.check_hostname = False
        tls = {"tls_context": context, "tls_insecure": rules.tls.insecure}
    return aiomqtt.Client(host or rules.host, port or rules.port, username=username,
                          password=password, identifier=identifier,
                          clean_session=clean_session if identifier else True, timeout=10, **tls)


T = TypeVar("T")


async def messages_until(client: aiomqtt.Client,
                         timeout_s: float | None) -> AsyncIterator[aiomqtt.Message]:
    """The client's messages until ``timeout_s`` has passed (forever with None)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    messages = aiter(client.messages)
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        try:
            message = await asyncio.wait_for(anext(messages), left)
        except TimeoutError:
            return
        yield message


def run_client(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's MQTT conversation; a broker error becomes the CLI's own error."""
    from ivr.core.cli import CliError

    try:
        return asyncio.run(work)
    except Exception as exc:
        if type(exc).__module__.startswith("aiomqtt"):
            raise CliError(f"MQTT: {exc}") from None
        raise
