"""Supervisor monitoring (监听 / 耳语 / 强插): ChanSpy on an agent's live call, with an audit.

Two ways in, one check: ``hotline supervise listen|whisper|barge AGENT --as SUPERVISOR``
(control API ``supervise.start``: the controller originates the supervisor's phone into
``[hotline-spy]``), and ``*31``/``*32``/``*33<agent>`` on the supervisor's phone (FastAGI
``supervise``: Asterisk confirms the requesting channel over AMI first).  Either way the
supervisor must be in ``agents.yaml`` ``supervisors:`` and allowed for that agent (a skill
or the agent's id), and the agent must be bridged in a call right now.  Every start, mode
switch (keys 4 / 5 / 6 on the supervisor's phone), end and refusal is an audit entry
(``quality.db``), published on the event stream.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ivr.agi.channel import ChannelNotConfirmed, confirm_agi_channel
from ivr.agi.server import AgiSession
from ivr.ami.codec import AmiMessage
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.config.roster import Agent, Supervisor, interface_of
from ivr.control.protocol import error, ok
from ivr.quality.store import AuditEntry, QualityStore

log = logging.getLogger(__name__)

#: ChanSpy options per mode: q no beep or name, E end when the agent's call ends, X a key
#: with an extension in ``[hotline-spy]`` (4 / 5 / 6) leaves ChanSpy there, which announces
#: the new mode (UserEvent ``HotlineSpyMode``, audited) and spies again; w whisper, B barge.
#: ``dialplans/extensions.conf.tmpl`` repeats these per key (a unit test compares them).
MODES: dict[str, str] = {"listen": "qEX", "whisper": "qwEX", "barge": "qBEX"}
#: the keys that switch mode during a session
MODE_KEYS: dict[str, str] = {"4": "listen", "5": "whisper", "6": "barge"}
SPY_CONTEXT = "hotline-spy"
#: the UserEvent the dialplan sends after a mode switch (its Uniqueid is the session's)
MODE_EVENT = "HotlineSpyMode"


class SupervisionError(Exception):
    """A monitoring request is refused (the reason)."""


class AmiPort(Protocol):
    async def action(self, action: str, fields: dict[str, str] | None = None,
                     variables: dict[str, str] | None = None) -> AmiMessage: ...

    async def action_list(self, action: str,
                          fields: dict[str, str] | None = None) -> list[AmiMessage]: ...


@dataclass
class Session:
    """A monitoring session in progress: the supervisor's channel (unique id) spying."""

    id: str
    supervisor: str
    agent: str
    call_id: str
    mode: str  # the mode it started in
    started_at: datetime
    by: str  # cli | phone
    current: str = ""  # the mode now (after keys 4 / 5 / 6); empty: as started


@dataclass
class Target:
    supervisor: Supervisor
    agent: Agent
    channel: str
    call_id: str


class SupervisionService:
    """Checks permission and the agent's live call, starts ChanSpy, audits every session."""

    OPERATIONS = ("supervise.start",)

    def __init__(self, config: Callable[[], EngineConfig], clock: Clock,
                 ami: Callable[[], AmiPort | None], store: QualityStore) -> None:
        self._config = config
        self._clock = clock
        self._ami = ami
        self._store = store
        self.sessions: dict[str, Session] = {}

    async def find(self, supervisor: Supervisor | None, supervisor_ref: str, agent_id: str,
                   mode: str) -> Target:
        """The agent's call a supervisor may monitor, or :class:`SupervisionError`."""
        if mode not in MODES:
            raise SupervisionError(f"unknown mode {mode!r}; use {', '.join(MODES)}")
        roster = self._config().roster
        if supervisor is None:
            raise SupervisionError(f"{supervisor_ref} is not a supervisor in agents.yaml")
        agent = roster.by_id(agent_id)
        if agent is None:
            raise SupervisionError(f"no agent {agent_id!r} in agents.yaml")
        if not supervisor.may_supervise(agent):
            raise SupervisionError(f"supervisor {supervisor.id} may not monitor agent {agent.id} "
                                   f"(skills {', '.join(supervisor.skills) or '-'}, agents "
                                   f"{', '.join(supervisor.agents) or '-'})")
        ami = self._ami()
        if ami is None:
            raise SupervisionError("AMI is not connected")
        channels = await ami.action_list("CoreShowChannels")
        prefix = agent.interface.lower() + "-"
        live = [c for c in channels if c.get("Channel").lower().startswith(prefix)
                and c.get("BridgeId")]
        if not live:
            raise SupervisionError(f"agent {agent.id} has no call to monitor")
        entry = live[0]
        return Target(supervisor, agent, entry.get("Channel"),
                      entry.get("Linkedid") or entry.get("Uniqueid"))

    async def _write(self, entry: AuditEntry) -> None:
        try:
            await asyncio.to_thread(self._store.audit, entry)
        except Exception:
            log.exception("audit entry %s could not be written", entry)

    async def _audit(self, action: str, actor: str, agent: str, mode: str, call_id: str = "",
                     outcome: str = "", **detail: Any) -> None:
        await self._write(AuditEntry(at=self._clock.now().isoformat(), actor=actor,
                                     action=action, subject=agent, call_id=call_id, mode=mode,
                                     outcome=outcome, detail=detail))

    async def _refused(self, actor: str, agent: str, mode: str, reason: str, by: str) -> None:
        log.warning("monitoring refused: %s %s %s: %s", actor, mode, agent, reason)
        await self._audit("monitor_refused", actor, agent, mode, outcome="refused",
                          reason=reason, by=by)

    async def _started(self, session: Session, channel: str) -> None:
        self.sessions[session.id] = session
        await self._audit("monitor_start", session.supervisor, session.agent, session.mode,
                    session.call_id, "started", by=session.by, session=session.id,
                    agent_channel=channel)
        log.info("supervisor %s %s agent %s on call %s (%s)", session.supervisor, session.mode,
                 session.agent, session.call_id, session.by)

    # --- the CLI, over the control API ----------------------------------------------------

    async def handle(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """``supervise.start``: {supervisor, agent, mode}."""
        if op != "supervise.start":
            return error(f"unknown operation {op!r}")
        try:
            sup_id, agent_id, mode = str(args["supervisor"]), str(args["agent"]), str(args["mode"])
        except KeyError as exc:
            return error(f"bad arguments for {op}: {exc}")
        supervisor = self._config().roster.supervisor_by_id(sup_id)
        try:
            target = await self.find(supervisor, f"supervisor {sup_id!r}", agent_id, mode)
            session_id = "spy-" + secrets.token_hex(6)
            ami = self._ami()
            assert ami is not None
            response = await ami.action("Originate", {
                "Channel": target.supervisor.interface, "Context": SPY_CONTEXT, "Exten": "s",
                "Priority": "1", "Timeout": "30000", "Async": "true", "ChannelId": session_id,
                "CallerID": f'"monitor {mode} {agent_id}" <{agent_id}>'}, {
                "HOTLINE_SPY_CHANNEL": target.channel, "HOTLINE_SPY_OPTIONS": MODES[mode],
                "HOTLINE_SPY_SESSION": session_id, "HOTLINE_CALL_ID": target.call_id})
            if response.get("Response") != "Success":
                raise SupervisionError(f"AMI Originate failed: {response.get('Message')}")
        except SupervisionError as exc:
            await self._refused(sup_id, agent_id, mode, str(exc), "cli")
            return error(str(exc))
        session = Session(session_id, sup_id, agent_id, target.call_id, mode,
                          self._clock.now(), "cli")
        await self._started(session, target.channel)
        return ok({"session": session_id, "call_id": target.call_id, "agent": agent_id,
                   "agent_channel": target.channel, "mode": mode,
                   "supervisor": target.supervisor.interface})

    # --- the supervisor's phone, over FastAGI ---------------------------------------------

    async def handle_agi(self, session: AgiSession) -> None:
        """``supervise`` MODE AGENT: sets HOTLINE_SPY_RESULT (ok | refused) and, when ok,
        HOTLINE_SPY_CHANNEL and HOTLINE_SPY_OPTIONS for ChanSpy in ``[hotline-spy]``."""
        args = session.env.args
        mode = args[0] if args else ""
        agent_id = args[1] if len(args) > 1 else ""
        channel = session.env.get("channel")
        actor = interface_of(channel) if channel else "-"
        try:
            await confirm_agi_channel(self._ami(), session.env)
        except ChannelNotConfirmed as exc:
            await self._refused(actor, agent_id, mode, f"channel not confirmed: {exc}", "phone")
            await session.set_variable("HOTLINE_SPY_RESULT", "refused")
            return
        supervisor = self._config().roster.supervisor_by_interface(actor)
        try:
            target = await self.find(supervisor, f"phone {actor}", agent_id, mode)
        except SupervisionError as exc:
            await self._refused(supervisor.id if supervisor else actor, agent_id, mode, str(exc),
                          "phone")
            await session.set_variable("HOTLINE_SPY_RESULT", "refused")
            return
        await session.set_variable("HOTLINE_SPY_CHANNEL", target.channel)
        await session.set_variable("HOTLINE_SPY_OPTIONS", MODES[mode])
        await session.set_variable("HOTLINE_SPY_RESULT", "ok")
        await self._started(Session(session.env.get("uniqueid"), target.supervisor.id, agent_id,
                              target.call_id, mode, self._clock.now(), "phone"), target.channel)

    # --- mode switches and the end of a session ------------------------------------------

    async def on_ami(self, event: AmiMessage) -> None:
        """AMI events of the quality feature: a mode switch, a hangup."""
        if event.event == "UserEvent" and event.get("UserEvent") == MODE_EVENT:
            await self.on_mode(event)
        elif event.event == "Hangup":
            await self.on_hangup(event)

    async def on_mode(self, event: AmiMessage) -> None:
        """The supervisor keyed 4 / 5 / 6: audit who switched whom, on which call, from which
        mode to which, and when (nothing when the mode stays the same)."""
        session = self.sessions.get(event.get("Uniqueid"))
        mode = event.get("Mode")
        if session is None or mode not in MODES:
            log.debug("mode switch of an unknown session or mode: %s %s",
                      event.get("Uniqueid"), mode)
            return
        previous = session.current or session.mode
        if mode == previous:
            return
        session.current = mode
        log.info("supervisor %s switched from %s to %s on agent %s, call %s",
                 session.supervisor, previous, mode, session.agent, session.call_id)
        await self._audit("monitor_mode", session.supervisor, session.agent, mode,
                          session.call_id, "switched", by=session.by, session=session.id,
                          from_mode=previous, to_mode=mode)

    async def on_hangup(self, event: AmiMessage) -> None:
        """The supervisor's channel hung up: the session ends (audited with its start)."""
        if event.event != "Hangup":
            return
        session = self.sessions.pop(event.get("Uniqueid"), None)
        if session is None:
            return
        now = self._clock.now()
        entry = AuditEntry(at=now.isoformat(), actor=session.supervisor, action="monitor_end",
                           subject=session.agent, call_id=session.call_id, mode=session.mode,
                           started_at=session.started_at.isoformat(), ended_at=now.isoformat(),
                           outcome="ended",
                           detail={"by": session.by, "session": session.id,
                                   "last_mode": session.current or session.mode,
                                   "duration_s": round((now - session.started_at)
                                                       .total_seconds(), 1)})
        await self._write(entry)
