"""The ``metrics:`` section of ``routing_rules.yaml`` (read at start-up)."""

from __future__ import annotations

from pydantic import Field

from ivr.config.validate import ListenAddress, StrictModel

#: 9345: clear of the sandbox's ports (SIP 5060, AMI 5038, FastAGI 4573, AudioSocket 9092,
#: agent phones 5171–, test peers 5190–5194, RTP 10000–10999, MQTT 1883)
DEFAULT_PORT = 9345


class MetricsRules(StrictModel):
    """Prometheus ``/metrics`` over HTTP: on by default, loopback only unless told otherwise."""

    enabled: bool = True
    host: ListenAddress = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)

