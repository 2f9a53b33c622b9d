"""Starting, cancelling and leaving transfers: the controller's side, over AMI.

The controller only *starts* a transfer (sets ``HOTLINE_XFER_*`` variables, redirects the
caller and the agent into ``[hotline-xfer]`` and originates the target leg); Asterisk's
dialplan runs the rest (hold prompt, ring time, backup trunk, return to the agent), so a
controller restart in the middle of a transfer does not drop or strand anybody.  The
:class:`~ivr.transfers.events.TransferEventAdapter` records what happens next.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Protocol

from ivr.agi.channel import confirm_agi_channel
from ivr.agi.codec import AgiEnvironment
from ivr.ami.codec import AmiMessage
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.config.roster import Roster, interface_of
from ivr.core.callstore import CallStore
from ivr.core.events import StepRecorder
from ivr.masking import mask_numbers_in_text
from ivr.transfers.model import (
    CallNotFound,
    NoTransferInProgress,
    NotWithAgent,
    Outcome,
    TargetKind,
    Transfer,
    TransferError,
    TransferMode,
    TransferState,
)
from ivr.transfers.registry import TransferRegistry, recover
from ivr.transfers.targets import resolve_target

log = logging.getLogger(__name__)

LEG_SUFFIX = "-leg"


class AmiPort(Protocol):
    """The AMI actions a transfer needs (``AmiConnection`` has them)."""

    async def action(self, action: str, fields: dict[str, str] | None = None,
                     variables: dict[str, str] | None = None) -> AmiMessage: ...

    async def action_list(self, action: str,
                          fields: dict[str, str] | None = None) -> list[AmiMessage]: ...


def conference_name(call_id: str) -> str:
    """The ConfBridge conference a call's transfers use."""
    return f"hlx-{call_id}"


def call_id_of_conference(name: str) -> str | None:
    """The call id back from a conference name, None for other conferences."""
    return name.removeprefix("hlx-") if name.startswith("hlx-") else None


class TransferService:
    """Agent-facing transfer operations (CLI, control API and feature codes all land here)."""

    def __init__(self, ami: Callable[[], AmiPort | None], config: Callable[[], EngineConfig],
                 clock: Clock, journal: StepRecorder, registry: TransferRegistry,
                 records: CallStore) -> None:
        self._ami = ami
        self._records = records
        self._config = config
        self._clock = clock
        self._journal = journal
        self._registry = registry

    def _connected(self) -> AmiPort:
        ami = self._ami()
        if ami is None:
            raise TransferError("the controller is not connected to Asterisk (AMI); try again")
        return ami

    async def start(self, target: str, *, call_id: str | None = None,
                    agent_channel: str | None = None, mode: TransferMode = TransferMode.ATTENDED,
                    summary: str | None = None, by: str = "cli") -> Transfer:
        """Transfer the caller of ``call_id`` (or the caller bridged to ``agent_channel``)."""
        ami = self._connected()
        config = self._config()
        channels = await ami.action_list("CoreShowChannels")
        caller, agent = _caller_and_agent(channels, call_id, agent_channel, config.roster)
        call_id = caller.get("Uniqueid")
        current = self._registry.for_call(call_id)
        if current is not None and current.active:
            raise TransferError(f"call {call_id} already has transfer {current.id} "
                                f"({current.state.value}); cancel it first")
        line = (await ami.action("Getvar", {"Channel": caller.get("Channel"),
                                            "Variable": "HOTLINE_LINE"})).get("Value")
        resolved = resolve_target(target, config, line or None)
        if resolved.kind is TargetKind.EMERGENCY:
            mode = TransferMode.STAY  # one-key emergency: the agent stays until it answers
        transfer = Transfer(
            id=f"xfer-{secrets.token_hex(6)}", call_id=call_id, target=resolved, mode=mode,
            requested_at=self._clock.now(), requested_by=by,
            caller_channel=caller.get("Channel"), agent_channel=agent.get("Channel"),
            agent_id=_agent_id(config.roster, agent.get("Channel")),
            # an agent's free text may hold the caller's phone or ID number: masked like a
            # transcript before it reaches the call record, the target or a work order
            summary=mask_numbers_in_text(summary or config.rules.transfers.default_summary))
        self._registry.add(transfer)
        self._journal.append(
            call_id, "transfer_requested", transfer.requested_at, transfer=transfer.id,
            target=resolved.name, target_kind=resolved.kind.value, mode=mode.value,
            dial=resolved.dial, backup_dial=resolved.backup_dial, by=by,
            caller_channel=transfer.caller_channel, agent=transfer.agent_channel,
            agent_id=transfer.agent_id,
            summary=transfer.summary, description=resolved.description,
            on_failure=resolved.on_failure.value)
        await self._records.flush()  # durable before Asterisk moves anyone: a restart recovers it
        try:
            await self._move_channels(ami, transfer, config)
            if mode is not TransferMode.BLIND:
                await self._originate(ami, transfer)
        except Exception as exc:
            transfer.outcome = Outcome.FAILED
            transfer.move(TransferState.ENDED, self._clock.now())
            self._journal.append(call_id, "transfer_error", self._clock.now(),
                                 transfer=transfer.id, state=transfer.state.value, error=str(exc))
            raise TransferError(f"transfer {transfer.id} could not start: {exc}") from exc
        if transfer.state is TransferState.REQUESTED:  # the dialplan's events may be ahead of us
            transfer.move(TransferState.DIALLING, self._clock.now())
        log.info("transfer %s of call %s to %s (%s) by %s", transfer.id, call_id,
                 resolved.name, mode.value, by)
        return transfer

    async def _move_channels(self, ami: AmiPort, transfer: Transfer, config: EngineConfig) -> None:
        target = transfer.target
        common = {"HOTLINE_XFER_CONF": conference_name(transfer.call_id),
                  "HOTLINE_XFER_ID": transfer.id, "HOTLINE_XFER_MODE": transfer.mode.value,
                  "HOTLINE_CALL_ID": transfer.call_id}
        wait_s = target.answer_s * (2 if target.backup_dial else 1) \
            + config.rules.transfers.agent_wait_margin_s
        caller_vars = {**common, "HOTLINE_XFER_AGENT": transfer.agent_channel or ""}
        if transfer.mode is TransferMode.BLIND:
            caller_vars.update({
                "HOTLINE_XFER_DIAL": target.dial, "HOTLINE_XFER_BACKUP": target.backup_dial or "",
                "HOTLINE_XFER_TIMEOUT": str(target.answer_s),
                "HOTLINE_XFER_AGENT_DIAL": interface_of(transfer.agent_channel or "")
                if transfer.agent_channel else "",
                "HOTLINE_XFER_AGENT_RING": str(config.rules.acd.ring_timeout_s)})
        agent_vars = {**common, "HOTLINE_XFER_WAIT": str(wait_s)}
        # pipelined: AMI runs them in order, we wait for the round trips only once
        await asyncio.gather(*(
            _ok(ami, "Setvar", {"Channel": channel or "", "Variable": name, "Value": value})
            for channel, variables in ((transfer.caller_channel, caller_vars),
                                       (transfer.agent_channel, agent_vars))
            for name, value in variables.items()))
        caller_exten, agent_exten = {
            TransferMode.ATTENDED: ("caller", "agent-wait"),
            TransferMode.STAY: ("caller", "agent-join"),
            TransferMode.BLIND: ("blind", "agent-done"),
        }[transfer.mode]
        await _ok(ami, "Redirect", {
            "Channel": transfer.caller_channel, "Context": "hotline-xfer",
            "Exten": caller_exten, "Priority": "1",
            "ExtraChannel": transfer.agent_channel or "", "ExtraContext": "hotline-xfer",
            "ExtraExten": agent_exten, "ExtraPriority": "1"})

    async def _originate(self, ami: AmiPort, transfer: Transfer) -> None:
        target = transfer.target
        attempts = 2 if target.backup_dial else 1
        variables = {
            "HOTLINE_CALL_ID": transfer.call_id, "HOTLINE_XFER_ID": transfer.id,
            "HOTLINE_XFER_CONF": conference_name(transfer.call_id),
            "HOTLINE_XFER_MODE": transfer.mode.value, "HOTLINE_XFER_DIAL": target.dial,
            "HOTLINE_XFER_BACKUP": target.backup_dial or "",
            "HOTLINE_XFER_TIMEOUT": str(target.answer_s),
            "HOTLINE_XFER_AGENT": transfer.agent_channel or "",
            "HOTLINE_XFER_CALLER": transfer.caller_channel,
        }
        await _ok(ami, "Originate", {
            "Channel": "Local/s@hotline-xfer-leg/n", "Context": "hotline-xfer", "Exten": "target",
            "Priority": "1", "Timeout": str((target.answer_s * attempts + 10) * 1000),
            "CallerID": '"12345" <12345>', "Async": "true",
            "ChannelId": transfer.id, "OtherChannelId": transfer.id + LEG_SUFFIX,
        }, variables)

    async def cancel(self, call_id: str, agent_back: bool = True) -> Transfer:
        """Drop the target (ringing or in the three-way call); the caller stays with the agent.

        ``agent_back=False`` when the agent is already on the way back (keyed * on the phone).
        """
        transfer = await self._active(call_id)
        if transfer.mode is TransferMode.BLIND:
            raise TransferError(f"transfer {transfer.id} is blind: the caller is already with the "
                                "target's ringing and the agent was released")
        ami = self._connected()
        channels = await ami.action_list("CoreShowChannels")
        leg = next((c for c in channels if c.get("Uniqueid") == transfer.id), None)
        if agent_back and transfer.state is TransferState.DIALLING \
                and transfer.mode is TransferMode.ATTENDED:
            await _ok(ami, "Redirect", {"Channel": transfer.agent_channel or "",
                                        "Context": "hotline-xfer", "Exten": "agent-rejoin",
                                        "Priority": "1"})
        if leg is not None:
            await _ok(ami, "Hangup", {"Channel": leg.get("Channel")})
        transfer.outcome = transfer.outcome or Outcome.CANCELLED
        transfer.move(TransferState.CANCELLED, self._clock.now())
        self._journal.append(call_id, "transfer_cancelled", self._clock.now(), transfer=transfer.id,
                             state=transfer.state.value)
        return transfer

    async def leave(self, call_id: str) -> Transfer:
        """The agent drops out of the three-way call, leaving caller and target talking."""
        transfer = await self._active(call_id)
        if transfer.state is not TransferState.THREE_WAY:
            raise TransferError(f"transfer {transfer.id} is {transfer.state.value}: the agent can "
                                "leave only once the target has answered")
        await _ok(self._connected(), "Hangup", {"Channel": transfer.agent_channel or ""})
        return transfer

    async def _active(self, call_id: str) -> Transfer:
        transfer = self._registry.for_call(call_id) or \
            await recover(self._records, self._registry, call_id)
        if transfer is None or not transfer.active:
            raise NoTransferInProgress(f"call {call_id} has no transfer in progress")
        return transfer

    async def confirm_agent_request(self, env: AgiEnvironment) -> None:
        """A feature-code request is carried out only when Asterisk confirms that the channel
        it names is up, runs the AGI and is a roster agent's phone
        (:class:`ChannelNotConfirmed` or :class:`NotWithAgent` otherwise)."""
        channel = env.get("channel")
        if _agent_id(self._config().roster, channel) is None:
            raise NotWithAgent(f"{channel} is not an agent's phone (agents.yaml)")
        await confirm_agi_channel(self._ami(), env)

    def transfers(self) -> list[Transfer]:
        """Every transfer this controller knows, newest first."""
        return self._registry.all()


def _agent_id(roster: Roster, channel: str) -> str | None:
    """The roster id of the agent whose phone ``channel`` is, None for any other channel."""
    agent = roster.by_interface(interface_of(channel))
    return agent.id if agent else None


def _caller_and_agent(channels: list[AmiMessage], call_id: str | None, agent_channel: str | None,
                      roster: Roster) -> tuple[AmiMessage, AmiMessage]:
    """The caller's channel and the agent's channel bridged with it (agents: the roster's phones)."""
    def is_agent(c: AmiMessage) -> bool:
        return _agent_id(roster, c.get("Channel")) is not None

    if call_id is None:
        agent = next((c for c in channels if c.get("Channel") == agent_channel), None)
        if agent is None:
            raise CallNotFound(f"agent channel {agent_channel} is not up")
        if not is_agent(agent):
            raise NotWithAgent(f"{agent_channel} is not an agent's phone (agents.yaml)")
        bridge = agent.get("BridgeId")
        peers = [c for c in channels if bridge and c.get("BridgeId") == bridge and not is_agent(c)]
        if not peers:
            raise NotWithAgent(f"agent channel {agent_channel} is not talking with a caller")
        return peers[0], agent
    caller = next((c for c in channels if c.get("Uniqueid") == call_id), None)
    if caller is None:
        raise CallNotFound(f"no live call {call_id} (see `hotline calls`)")
    bridge = caller.get("BridgeId")
    agents = [c for c in channels if bridge and c.get("BridgeId") == bridge and is_agent(c)]
    if not agents:
        raise NotWithAgent(f"call {call_id} is not connected to a 12345 agent")
    return caller, agents[0]


async def _ok(ami: AmiPort, action: str, fields: dict[str, str],
              variables: dict[str, str] | None = None) -> AmiMessage:
    response = await ami.action(action, fields, variables)
    if response.get("Response") != "Success":
        raise TransferError(f"AMI {action} failed: {response.get('Message') or response.get('Response')}")
    return response
