"""FastAGI ``agent`` script: *71 login, *72 logout, *73[reason] pause, *74 resume.

A request is carried out only when Asterisk confirms over AMI that the channel it names
is up, is running this AGI and is a roster agent's phone (:mod:`ivr.agi.channel`): a
forged FastAGI request cannot log agents in or out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent_pool.commands import AgentCommandError, AgentCommands, UnknownAgentError
from ivr.agi.channel import ChannelLister, ChannelNotConfirmed, confirm_agi_channel
from ivr.agi.server import AgiSession
from ivr.config.roster import interface_of

log = logging.getLogger(__name__)


class FeatureCodeService:
    """Carries out an agent's feature code and tells the dialplan how it went."""

    def __init__(self, commands: Callable[[], AgentCommands | None],
                 ami: Callable[[], ChannelLister | None]) -> None:
        self._commands = commands
        self._ami = ami

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
                commands.find(interface)  # a roster agent's phone, else UnknownAgentError
                await confirm_agi_channel(self._ami(), session.env)
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
            except ChannelNotConfirmed as exc:
                log.warning("feature code %s for %s refused: Asterisk does not confirm the "
                            "requesting channel (%s)", action, interface, exc)
            except (UnknownAgentError, AgentCommandError) as exc:
                log.warning("feature code %s from %s refused: %s", action, interface, exc)
        await session.set_variable("HOTLINE_AGENT_RESULT", result)
