"""The ``web:`` section of ``routing_rules.yaml`` (read at start-up)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ivr.config.validate import ListenAddress, StrictModel

#: 8345: clear of the sandbox's ports and of /metrics (9345)
DEFAULT_PORT = 8345


class Supervisor(StrictModel):
    """A supervisor of the wallboard (agents come from agents.yaml)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1, max_length=64)


class WebRules(StrictModel):
    """The wallboard and agent desk over HTTP: on by default, loopback only, login for
    every page; passwords never here (generated into the run directory, or the environment)."""

    enabled: bool = True
    host: ListenAddress = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    session_hours: float = Field(12.0, gt=0, le=168)
    supervisors: list[Supervisor] = []


    @model_validator(mode="after")
    def _unique(self) -> WebRules:
        ids = [s.id for s in self.supervisors]
        if len(ids) != len(set(ids)):
            raise ValueError("supervisor ids must be unique")
        return self
