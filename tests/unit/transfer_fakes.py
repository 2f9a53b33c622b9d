"""Fakes shared by the transfer unit tests: a fixed clock, AMI messages shaped like Asterisk's,
and an AMI connection that records the actions the controller sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ivr.ami.codec import AmiMessage

T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai

CALL_ID = "1763900000.7"
CALLER = "PJSIP/trunk-00000007"
AGENT = "PJSIP/agent-1001-0000000a"
AGENT_UNIQUEID = "1763900000.8"
BRIDGE = "0b7c6a2e-54f1-4a1e-9d0b-3f9c8e1a2b3c"


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def message(**fields: str) -> AmiMessage:
    """An AMI message with these keys, in this order."""
    return AmiMessage(tuple(fields.items()))


def event(name: str, **fields: str) -> AmiMessage:
    """An AMI event as Asterisk sends it (``Event`` first, ``Privilege`` next)."""
    return AmiMessage((("Event", name), ("Privilege", "call,all"), *fields.items()))


def user_event(kind: str, call_id: str, transfer_id: str, channel: str = CALLER,
               **fields: str) -> AmiMessage:
    """A ``UserEvent(HotlineTransfer<kind>,CallId: …,TransferId: …)`` of ``[hotline-xfer]``."""
    return AmiMessage((("Event", "UserEvent"), ("Privilege", "user,all"), ("Channel", channel),
                       ("Uniqueid", call_id), ("UserEvent", f"HotlineTransfer{kind}"),
                       ("CallId", call_id), ("TransferId", transfer_id), *fields.items()))


def channel(name: str, uniqueid: str, bridge: str = "", *, exten: str = "12345",
            context: str = "hotline-queue", application: str = "AppDial", caller_num: str = "13800138000",
            linkedid: str = CALL_ID) -> dict[str, str]:
    """The fields of one ``CoreShowChannel`` event."""
    return {"Channel": name, "ChannelState": "6", "ChannelStateDesc": "Up", "CallerIDNum": caller_num,
            "CallerIDName": "", "ConnectedLineNum": "", "Language": "zh", "AccountCode": "",
            "Context": context, "Exten": exten, "Priority": "1", "Uniqueid": uniqueid,
            "Linkedid": linkedid, "Application": application, "ApplicationData": "",
            "Duration": "00:01:05", "BridgeId": bridge}


def talking() -> list[dict[str, str]]:
    """A caller on 12345 talking with agent 1001, a second pair, and a caller still queued."""
    return [
        channel(CALLER, CALL_ID, BRIDGE, application="Queue", context="hotline-queue"),
        channel(AGENT, AGENT_UNIQUEID, BRIDGE, application="AppQueue", context="from-internal"),
        channel("PJSIP/trunk-00000009", "1763900010.9", "other-bridge", application="Queue",
                linkedid="1763900010.9", caller_num="13900139000"),
        channel("PJSIP/agent-1002-0000000b", "1763900010.10", "other-bridge", application="AppQueue",
                linkedid="1763900010.9"),
        channel("PJSIP/trunk-0000000c", "1763900020.12", "", application="Queue",
                linkedid="1763900020.12", caller_num="13700137000"),
    ]


Action = tuple[str, dict[str, str], dict[str, str]]


@dataclass
class FakeAmi:
    """Answers like Asterisk; records every action; ``fail`` makes an action return an error."""

    channels: list[dict[str, str]] = field(default_factory=talking)
    variables: dict[tuple[str, str], str] = field(default_factory=lambda: {(CALLER, "HOTLINE_LINE"): "12366"})
    fail: dict[str, str] = field(default_factory=dict)  # action -> Asterisk's error message
    # runs after a successful action (the dialplan's events, fed to the adapter)
    on_action: Callable[[str, dict[str, str]], Awaitable[None]] | None = None
    actions: list[Action] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)

    async def action(self, action: str, fields: dict[str, str] | None = None,
                     variables: dict[str, str] | None = None) -> AmiMessage:
        fields = dict(fields or {})
        self.actions.append((action, fields, dict(variables or {})))
        action_id = f"hl-{len(self.actions) + 1}"
        if action in self.fail:
            return message(Response="Error", ActionID=action_id, Message=self.fail[action])
        if action == "Getvar":
            value = self.variables.get((fields["Channel"], fields["Variable"]), "")
            return message(Response="Success", ActionID=action_id, Variable=fields["Variable"],
                           Value=value)
        if self.on_action is not None:
            await self.on_action(action, fields)
        return message(Response="Success", ActionID=action_id,
                       Message="Originate successfully queued" if action == "Originate" else "")

    async def action_list(self, action: str, fields: dict[str, str] | None = None) -> list[AmiMessage]:
        self.lists.append(action)
        assert action == "CoreShowChannels", action
        action_id = f"hl-list-{len(self.lists)}"
        return [message(Response="Success", ActionID=action_id, EventList="start",
                        Message="Channels will follow"),
                *(AmiMessage((("Event", "CoreShowChannel"), ("ActionID", action_id), *c.items()))
                  for c in self.channels),
                message(Event="CoreShowChannelsComplete", ActionID=action_id, EventList="Complete",
                        ListItems=str(len(self.channels)))]

    def named(self, action: str) -> list[Action]:
        """The actions of one kind, in order."""
        return [a for a in self.actions if a[0] == action]

    def setvars(self) -> dict[str, dict[str, str]]:
        """Channel -> the variables Setvar gave it."""
        out: dict[str, dict[str, str]] = {}
        for _, fields, _ in self.named("Setvar"):
            out.setdefault(fields["Channel"], {})[fields["Variable"]] = fields["Value"]
        return out
