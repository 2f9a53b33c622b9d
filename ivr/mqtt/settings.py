"""Schema of the ``mqtt:`` section of ``routing_rules.yaml`` (events and work orders over MQTT)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ivr.catalogue.model import Identifier, Number
from ivr.config.validate import StrictModel


class MqttTls(StrictModel):
    """TLS to the broker (off by default: the broker runs on loopback)."""

    enabled: bool = False
    ca_file: str | None = None  # None: the system's trust store
    insecure: bool = False  # skip the host-name check (test brokers only)


class Department(StrictModel):
    """A department that receives work orders, and what it is responsible for."""

    name: str
    targets: list[Identifier] = []  # transfer targets (endpoints) it owns: subcenter-12366
    units: list[str] = []  # the catalogue's 责任单位 strings it answers for: 市税务局
    lines: list[Number] = []  # catalogue lines it owns: "12366"
    domains: list[Identifier] = []  # classification domains it handles: tax


class Delivery(StrictModel):
    """Work-order delivery: resend until acknowledged, escalate when nobody does."""

    resend_initial_s: float = Field(5.0, ge=0.1, le=3600)  # first resend after this
    resend_max_s: float = Field(300.0, ge=0.1, le=86400)  # the backoff doubles up to this
    escalate_after_s: float = Field(900.0, ge=1, le=7 * 86400)  # unacknowledged this long
    poll_s: float = Field(0.5, ge=0.05, le=60)  # how often the store is checked for due orders


class MqttRules(StrictModel):
    """Events and work orders published to an MQTT broker (see docs/events.md)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    tls: MqttTls = MqttTls()
    topic_prefix: str = Field("hotline", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")
    username: str = Field("hotline", pattern=r"^[A-Za-z0-9_\-]+$")  # password: see docs/events.md
    client_id: str = Field("hotline-controller", pattern=r"^[A-Za-z0-9_\-]+$")
    keepalive_s: int = Field(30, ge=5, le=600)
    queue_max: int = Field(10_000, ge=100, le=1_000_000)  # buffered events while the broker is away
    queue_stats_s: float = Field(1.0, ge=1.0, le=60)  # retained queue stats at most this often
    secrets_dir: str | None = None  # default $HOTLINE_RUN_DIR/mqtt ($HOTLINE_MQTT_SECRETS_DIR wins)
    delivery: Delivery = Delivery()
    departments: dict[Identifier, Department] = {}
    default_department: Identifier | None = None  # when nothing else names one

    @model_validator(mode="after")
    def _known_default(self) -> MqttRules:
        if self.default_department is not None and self.default_department not in self.departments:
            raise ValueError(f"default_department {self.default_department!r} is not one of "
                             f"the departments ({', '.join(sorted(self.departments)) or 'none'})")
        if self.username in self.departments:
            raise ValueError(f"username {self.username!r} is also a department id")
        if self.delivery.resend_max_s < self.delivery.resend_initial_s:
            raise ValueError("delivery.resend_max_s is below delivery.resend_initial_s")
        return self
