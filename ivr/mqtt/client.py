"""Clients other than the controller's: a department's, and the operator's event tail."""

from __future__ import annotations

import ssl
from typing import Any

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
