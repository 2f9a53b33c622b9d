"""Errors of the MQTT feature."""

from __future__ import annotations


class MqttSetupError(RuntimeError):
    """The broker or the credentials are not set up (a missing tool, password or file)."""


class Rejected(ValueError):
    """A department's ack or status update the hotline refuses (the reason is logged and
    answered on the order's reply topic)."""

    def __init__(self, order_id: str, reason: str) -> None:
        super().__init__(f"{order_id or '?'}: {reason}")
        self.order_id = order_id
        self.reason = reason
