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


class Supervisor(StrictModel):
    """A supervisor (班长/质检): a phone, and whom they may monitor (listen, whisper, barge):
    every agent with one of ``skills``, and the agents listed in ``agents``."""

    id: AgentId
    name: str
    interface: Interface = Field(description="the phone, e.g. PJSIP/supervisor-1101")
    skills: list[Identifier] = []
    agents: list[AgentId] = []

    @model_validator(mode="after")
    def _supervises_someone(self) -> Supervisor:
        if not self.skills and not self.agents:
            raise ValueError("a supervisor needs skills or agents to supervise")
        return self

    def may_supervise(self, agent: Agent) -> bool:
        """Whether this supervisor may monitor ``agent``."""
        return agent.id in self.agents or any(skill in agent.skills for skill in self.skills)


class Roster(StrictModel):
    """The whole ``agents.yaml``."""

    version: int = Field(ge=1, le=1)
    agents: list[Agent]
    supervisors: list[Supervisor] = []  # optional: who may monitor whom (docs/quality.md)

    @model_validator(mode="after")
    def _supervisors_known(self) -> Roster:
        agent_ids = {a.id for a in self.agents}
        phones = {a.interface.lower() for a in self.agents}
        seen: set[str] = set()
        for sup in self.supervisors:
            if sup.id in agent_ids or sup.id in seen:
                raise ValueError(f"supervisor id {sup.id!r} is already used")
            if sup.interface.lower() in phones:
                raise ValueError(f"supervisor {sup.id}'s phone {sup.interface} is an agent's phone")
            unknown = [a for a in sup.agents if a not in agent_ids]
            if unknown:
                raise ValueError(f"supervisor {sup.id} names unknown agents: {', '.join(unknown)}")
            seen.add(sup.id)
        return self

    def supervisor_by_id(self, supervisor_id: str) -> Supervisor | None:
        """The supervisor with this id."""
        return next((s for s in self.supervisors if s.id == supervisor_id), None)

    def supervisor_by_interface(self, interface: str) -> Supervisor | None:
        """The supervisor whose phone is ``interface``."""
        wanted = interface.lower()
        return next((s for s in self.supervisors if s.interface.lower() == wanted), None)

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
