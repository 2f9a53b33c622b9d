"""Agent log in / log out / pause / resume: queue membership changes over AMI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent_pool.skills import Membership, all_skills, memberships
from ivr.ami.codec import AmiMessage
from ivr.catalogue.model import Catalogue
from ivr.config.roster import Agent, Roster
from ivr.core.queues import QUEUE_PREFIX, expert_domains


class UnknownAgentError(LookupError):
    """No roster agent has that id or phone."""


class AgentCommandError(RuntimeError):
    """Asterisk refused a membership change."""


class ManagerLink(Protocol):
    """What the commands need from an AMI connection (easy to fake in unit tests)."""

    async def action(self, action: str, fields: dict[str, str] | None = None,
                     variables: dict[str, str] | None = None) -> AmiMessage:
        """Send an action; return its response."""
        ...

    async def action_list(self, action: str,
                          fields: dict[str, str] | None = None) -> list[AmiMessage]:
        """Send a list action; return its events."""
        ...


@dataclass(frozen=True)
class CommandResult:
    """What a command did."""

    agent: str
    action: str
    queues: int
    detail: str = ""


class AgentCommands:
    """The agent actions of the CLI and of the phone feature codes."""

    def __init__(self, ami: ManagerLink, roster: Roster, catalogue: Catalogue,
                 pause_reasons: dict[str, str]) -> None:
        self._ami = ami
        self._roster = roster
        self._skills = all_skills(catalogue, roster)
        self._experts = expert_domains(catalogue)
        self._pause_reasons = pause_reasons

    def find(self, who: str) -> Agent:
        """An agent by id or by phone interface (``PJSIP/agent-1001``)."""
        agent = self._roster.by_id(who) or self._roster.by_interface(who)
        if agent is None:
            raise UnknownAgentError(f"no agent {who!r} in agents.yaml")
        return agent

    def plan(self, agent: Agent) -> list[Membership]:
        """The queues and penalties a login gives this agent."""
        return memberships(agent, self._skills, self._experts)

    async def _expect_ok(self, action: str, fields: dict[str, str],
                         tolerate: tuple[str, ...] = ()) -> None:
        response = await self._ami.action(action, fields)
        if response.get("Response") != "Success":
            message = response.get("Message")
            if not any(t in message for t in tolerate):
                raise AgentCommandError(f"{action} {fields.get('Queue', '')}: {message}")

    async def login(self, who: str, paused: bool = False) -> CommandResult:
        """Join every queue the agent's skills qualify for (already a member: fine)."""
        agent = self.find(who)
        plan = self.plan(agent)
        for member in plan:
            await self._expect_ok("QueueAdd", {
                "Queue": member.queue, "Interface": agent.interface,
                "Penalty": str(member.penalty), "MemberName": agent.id,
                "StateInterface": agent.interface, "Paused": "true" if paused else "false",
            }, tolerate=("Already there",))
        return CommandResult(agent.id, "login", len(plan))

    async def logout(self, who: str) -> CommandResult:
        """Leave every queue the phone is in (whatever skills it had when it logged in)."""
        agent = self.find(who)
        listing = await self._ami.action_list("QueueStatus", {"Member": agent.interface})
        queues = sorted({m.get("Queue") for m in listing if m.event == "QueueMember"
                         and m.get("Queue").startswith(QUEUE_PREFIX)
                         and (m.get("Location") or m.get("Interface")).lower()
                         == agent.interface.lower()})
        for queue in queues:
            await self._expect_ok("QueueRemove", {"Queue": queue, "Interface": agent.interface},
                                  tolerate=("Not there", "Not in queue"))
        return CommandResult(agent.id, "logout", len(queues))

    async def logout_all(self) -> int:
        """Remove every dynamic member from every ACD queue (whoever logged them in)."""
        listing = await self._ami.action_list("QueueStatus")
        removed = 0
        for member in listing:
            if member.event != "QueueMember" or not member.get("Queue").startswith(QUEUE_PREFIX) \
                    or member.get("Membership") != "dynamic":
                continue
            await self._expect_ok("QueueRemove", {"Queue": member.get("Queue"),
                                                  "Interface": member.get("Location")},
                                  tolerate=("Not there", "Not in queue"))
            removed += 1
        return removed

    async def pause(self, who: str, reason: str = "") -> CommandResult:
        """Pause in all queues; ``reason`` is a code from ``acd.pause_reasons`` or free text."""
        agent = self.find(who)
        text = self._pause_reasons.get(reason, reason) or "pause"
        await self._expect_ok("QueuePause", {"Interface": agent.interface, "Paused": "true",
                                             "Reason": text})
        return CommandResult(agent.id, "pause", len(self.plan(agent)), text)

    async def resume(self, who: str) -> CommandResult:
        """Unpause in all queues."""
        agent = self.find(who)
        await self._expect_ok("QueuePause", {"Interface": agent.interface, "Paused": "false"})
        return CommandResult(agent.id, "resume", len(self.plan(agent)))
