"""The agent roster (``agents.yaml``): who the agents are, their phones and their skills."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from ivr.catalogue.model import Identifier
from ivr.config.validate import StrictModel

Level = Annotated[int, Field(ge=1, le=10)]
AgentId = Annotated[str, Field(pattern=r"^[0-9A-Za-z_\-]{1,32}$")]
Interface = Annotated[str, Field(pattern=r"^[A-Za-z]+/[A-Za-z0-9_\-.@]+$")]


class Agent(StrictModel):
    """One agent: a SIP phone and skills with levels 1 (novice) to 10 (expert)."""

    id: AgentId
    name: str
    interface: Interface = Field(description="the phone, e.g. PJSIP/agent-1001")
    skills: dict[Identifier, Level]

    @model_validator(mode="after")
    def _has_a_skill(self) -> Agent:
        if not self.skills:
            raise ValueError("an agent needs at least one skill")
        return self


class Roster(StrictModel):
    """The whole ``agents.yaml``."""

    version: int = Field(ge=1, le=1)
    agents: list[Agent]

    def by_interface(self, interface: str) -> Agent | None:
        """The agent whose phone is ``interface`` (case-insensitive channel tech)."""
        wanted = interface.lower()
        return next((a for a in self.agents if a.interface.lower() == wanted), None)

    def by_id(self, agent_id: str) -> Agent | None:
        """The agent with this id."""
        return next((a for a in self.agents if a.id == agent_id), None)


def interface_of(channel: str) -> str:
    """The phone of a channel: ``PJSIP/agent-1001-0000000a`` -> ``PJSIP/agent-1001``."""
    tech, _, rest = channel.partition("/")
    name, _, _suffix = rest.rpartition("-")
    return f"{tech}/{name or rest}"
