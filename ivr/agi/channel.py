"""Is this FastAGI request really from the channel it names?

A FastAGI peer on the allow-list can still say anything in its environment.  Requests
that act on someone else's behalf (an agent's feature codes log agents in and out, start
transfers to 110) are carried out only when Asterisk itself confirms, over AMI, that the
channel the request names is up, has the unique id the request says, and is running
the AGI application right now.
"""

from __future__ import annotations

from typing import Protocol

from ivr.agi.codec import AgiEnvironment
from ivr.ami.codec import AmiMessage

#: What ``CoreShowChannels`` reports as the application of a channel inside ``AGI()``.
AGI_APPLICATIONS = frozenset({"agi", "eagi"})


class ChannelNotConfirmed(Exception):
    """Asterisk does not confirm the channel the AGI request names (the reason)."""


class ChannelLister(Protocol):
    """The one AMI call needed (``AmiConnection`` has it)."""

    async def action_list(self, action: str,
                          fields: dict[str, str] | None = None) -> list[AmiMessage]: ...


async def confirm_agi_channel(ami: ChannelLister | None, env: AgiEnvironment) -> AmiMessage:
    """The ``CoreShowChannel`` entry of the requesting channel, or
    :class:`ChannelNotConfirmed` (no AMI, channel not up, unique id differs, not in AGI)."""
    channel, uniqueid = env.get("channel"), env.get("uniqueid")
    if not channel or not uniqueid:
        raise ChannelNotConfirmed("the request names no channel or unique id")
    if ami is None:
        raise ChannelNotConfirmed("AMI is not connected: the channel cannot be confirmed")
    try:
        channels = await ami.action_list("CoreShowChannels")
    except Exception as exc:  # any AMI failure means: not confirmed
        raise ChannelNotConfirmed(f"channel listing failed: {exc}") from exc
    entry = next((c for c in channels if c.get("Channel") == channel), None)
    if entry is None:
        raise ChannelNotConfirmed(f"channel {channel} is not up")
    if entry.get("Uniqueid") != uniqueid:
        raise ChannelNotConfirmed(f"channel {channel} has another unique id than the request's")
    if entry.get("Application").lower() not in AGI_APPLICATIONS:
        raise ChannelNotConfirmed(f"channel {channel} is not running AGI "
                                  f"({entry.get('Application') or 'no application'})")
    return entry
