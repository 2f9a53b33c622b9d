"""The thin AMI side of callbacks: one Originate per attempt, and what the dialplan's
``[hotline-callback]`` reports back (stage kept in AstDB ``hlcb/<key>``, see
dialplans/extensions.conf.tmpl).

The controller pauses the agent in every queue (``QueuePause``, reason ``callback``), then
originates the agent's phone; once the agent answers, the agent's channel runs
``[hotline-callback]``: it dials the caller, plays the callback prompt to the caller on
answer and bridges.  The agent channel's hangup handler unpauses the agent and sends
``HotlineCallbackEnded`` with the last stage, which :func:`outcome_of_stage` turns into an
outcome.  An agent who does not answer leaves no stage: the controller unpauses them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.callbacks.model import Entry, Outcome
from ivr.callbacks.ports import AmiPort
from ivr.config.callbacks import CallbackRules

CONTEXT = "hotline-callback"
PAUSE_REASON = "callback"
_BUSY = {"BUSY", "CONGESTION", "CHANUNAVAIL"}


class OriginateFailed(RuntimeError):
    """Asterisk refused the Originate."""


def attempt_key(entry: Entry, started: datetime) -> str:
    """The channel id of an attempt's agent leg and its AstDB key: ``cb-<id>-<ms>``."""
    return f"cb-{entry.id}-{int(started.timestamp() * 1000)}"


def entry_id_of_key(key: str) -> int | None:
    """The entry id back from an attempt key, None for anything else."""
    parts = key.split("-")
    if len(parts) == 3 and parts[0] == "cb" and parts[1].isdigit():
        return int(parts[1])
    return None


def started_of_key(key: str) -> datetime | None:
    """When an attempt started, from its key."""
    parts = key.split("-")
    if len(parts) == 3 and parts[2].isdigit():
        return datetime.fromtimestamp(int(parts[2]) / 1000, tz=UTC)
    return None


def outcome_of_stage(stage: str) -> Outcome:
    """How an attempt ended, from the last stage the dialplan wrote.

    '' (the agent's channel never reached the dialplan): the agent did not answer;
    ``caller`` (the agent hung up while it rang) or ``caller:NOANSWER``: no answer;
    ``caller:BUSY``/``CONGESTION``/``CHANUNAVAIL``: busy; ``connected``: connected.
    """
    if stage == "connected":
        return Outcome.CONNECTED
    if stage.startswith("caller"):
        status = stage.partition(":")[2]
        return Outcome.BUSY if status in _BUSY else Outcome.NO_ANSWER
    return Outcome.AGENT_NO_ANSWER


async def pause(ami: AmiPort, interface: str, paused: bool) -> None:
    """Pause (reason ``callback``) or unpause the agent in every queue."""
    fields = {"Interface": interface, "Paused": "true" if paused else "false"}
    if paused:
        fields["Reason"] = PAUSE_REASON
    response = await ami.action("QueuePause", fields)
    if response.get("Response") != "Success":
        raise OriginateFailed(f"QueuePause {interface}: {response.get('Message')}")


async def originate(ami: AmiPort, entry: Entry, key: str, agent_interface: str,
                    rules: CallbackRules, prompt: str) -> None:
    """Start one attempt: ring the agent (the entry is already durably ``dialling`` and the
    agent paused)."""
    variables = {
        "HOTLINE_CALL_ID": entry.call_id, "HOTLINE_CB_ID": str(entry.id), "HOTLINE_CB_KEY": key,
        "HOTLINE_CB_AGENT": agent_interface, "HOTLINE_CB_DIAL": rules.dial_for(entry.number),
        "HOTLINE_CB_CALLER_RING": str(rules.caller_ring_s), "HOTLINE_CB_PROMPT": prompt,
        "HOTLINE_CB_CALLERID": rules.caller_id,
    }
    response = await ami.action("Originate", {
        "Channel": agent_interface, "Context": CONTEXT, "Exten": "caller", "Priority": "1",
        "Timeout": str(rules.agent_ring_s * 1000),
        "CallerID": f'"{rules.caller_id}" <{rules.caller_id}>', "Async": "true",
        "ChannelId": key,
    }, variables)
    if response.get("Response") != "Success":
        raise OriginateFailed(response.get("Message") or "Originate refused")


async def stage_of(ami: AmiPort, key: str) -> tuple[bool, str]:
    """After a restart: whether a channel of the attempt is still up, and its last stage."""
    channels = await ami.action_list("CoreShowChannels")
    alive = any(c.get("Uniqueid") == key for c in channels)
    response = await ami.action("Getvar", {"Variable": f"DB(hlcb/{key})"})
    return alive, response.get("Value") if response.get("Response") == "Success" else ""
