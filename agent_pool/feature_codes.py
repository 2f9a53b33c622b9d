"""FastAGI ``agent`` script: *71 login, *72 logout, *73[reason] pause, *74 resume."""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent_pool.commands import AgentCommandError, AgentCommands, UnknownAgentError
from ivr.agi.server import AgiSession
from ivr.config.roster import interface_of

log = logging.getLogger(__name__)


class FeatureCodeService:
    """Carries out an agent's feature code and tells the dialplan how it went."""

    def __init__(self, commands: Callable[[], AgentCommands | None]) -> None:
        self._commands = commands

    async def handle(self, session: AgiSession) -> None:
        """Set ``HOTLINE_AGENT_RESULT`` to ``ok`` or ``error``."""
        args = session.env.args
        action = args[0] if args else ""
        reason = args[1] if len(args) > 1 else ""
        interface = interface_of(session.env.get("channel"))
        commands = self._commands()
        result = "error"
        if commands is None:
            log.error("feature code %s from %s: AMI is not connected", action, interface)
        else:
            try:
                if action == "login":
                    await commands.login(interface)
                elif action == "logout":
                    await commands.logout(interface)
                elif action == "pause":
                    await commands.pause(interface, reason or "1")
                elif action == "resume":
                    await commands.resume(interface)
                else:
                    raise AgentCommandError(f"unknown feature code action {action!r}")
                result = "ok"
                log.info("agent %s: %s", interface, action)
            except (UnknownAgentError, AgentCommandError) as exc:
                log.warning("feature code %s from %s refused: %s", action, interface, exc)
        await session.set_variable("HOTLINE_AGENT_RESULT", result)
