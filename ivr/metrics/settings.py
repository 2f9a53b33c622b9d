"""The ``metrics:`` section of ``routing_rules.yaml`` (read at start-up)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from ivr.config.validate import StrictModel

#: 9345: clear of the sandbox's ports (SIP 5060, AMI 5038, FastAGI 4573, AudioSocket 9092,
#: agent phones 5171–, test peers 5190–5194, RTP 10000–10999, MQTT 1883)
DEFAULT_PORT = 9345


class MetricsRules(StrictModel):
    """Prometheus ``/metrics`` over HTTP: on by default, loopback only unless told otherwise."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("an IP address to listen on (127.0.0.1 by default)") from None
        return value
