"""AMI event adapter: turns Asterisk events about our calls into call-record steps."""

from __future__ import annotations

from collections import OrderedDict

from ivr.ami.codec import AmiMessage
from ivr.clock import Clock
from ivr.core.events import StepRecorder

LIVE_LIMIT = 50_000  # calls tracked at once; far above any centre's concurrent calls

_USER_EVENTS = {
    "HotlinePromptsDone": "prompts_played",
    "HotlineDial": "dial",
    "HotlineFallback": "fallback",
    "HotlineQueue": "queued",
    "HotlineQueueResult": "queue_result",
    "HotlineCallbackRequest": "callback_requested",
    "HotlineListen": "listen_dialled",
    "HotlineClassified": "speech_routed",
}


class CallEventAdapter:
    """Records the steps the dialplan reports (UserEvent), each dial attempt and the hangup."""

    #: the AMI events this adapter consumes
    EVENTS = frozenset({"UserEvent", "DialBegin", "DialEnd", "AgentConnect", "Hangup"})

    def __init__(self, journal: StepRecorder, clock: Clock) -> None:
        self._journal = journal
        self._clock = clock
        self._ours: OrderedDict[str, None] = OrderedDict()  # live calls, oldest first

    def adopt(self, channel_id: str) -> None:
        """A hotline call (decided by routing, or named by a dialplan event): its dials and
        hangup are recorded. Bounded: a call whose hangup was never seen (AMI down at the
        time) is forgotten after :data:`LIVE_LIMIT` newer ones."""
        self._ours[channel_id] = None
        self._ours.move_to_end(channel_id)
        while len(self._ours) > LIVE_LIMIT:
            self._ours.popitem(last=False)

    def handle(self, event: AmiMessage) -> None:
        """Feed every AMI event; the ones about hotline calls are recorded."""
        name = event.event
        if name == "UserEvent":
            step = _USER_EVENTS.get(event.get("UserEvent"))
            if step is None:
                return
            call_id = event.get("CallId") or event.get("Uniqueid")
            self.adopt(event.get("Uniqueid"))
            data = {k: v for k, v in (("prompts", event.get("Prompts")),
                                      ("kind", event.get("Kind")),
                                      ("dial", event.get("Dial")),
                                      ("status", event.get("Status")),
                                      ("dnis", event.get("Dnis")),
                                      ("queue", event.get("Queue")),
                                      ("priority", event.get("Priority")),
                                      ("skill", event.get("Skill")),
                                      ("agi_status", event.get("AgiStatus")),
                                      ("listen_status", event.get("ListenStatus")),
                                      ("topic", event.get("Topic")),
                                      ("urgency", event.get("Urgency"))) if v}
            self._journal.append(call_id, step, self._clock.now(),
                                 channel=event.get("Channel"), **data)
        elif name in ("DialBegin", "DialEnd") and event.get("Uniqueid") in self._ours:
            step = "ringing" if name == "DialBegin" else "dial_result"
            extra = {"status": event.get("DialStatus")} if name == "DialEnd" else {}
            self._journal.append(event.get("Uniqueid"), step, self._clock.now(),
                                 dest=event.get("DestChannel"), **extra)
        elif name == "AgentConnect" and event.get("Uniqueid") in self._ours:
            self._journal.append(event.get("Uniqueid"), "answered", self._clock.now(),
                                 queue=event.get("Queue"), agent=event.get("MemberName"),
                                 interface=event.get("Interface"),
                                 hold_s=_seconds(event.get("HoldTime")),
                                 ring_s=_seconds(event.get("RingTime")))
        elif name == "Hangup" and event.get("Uniqueid") in self._ours:
            uniqueid = event.get("Uniqueid")
            self._ours.pop(uniqueid, None)
            self._journal.append(uniqueid, "hangup", self._clock.now(),
                                 cause=event.get("Cause"), cause_txt=event.get("Cause-txt"))


def _seconds(raw: str) -> int | None:
    """An AMI seconds field, None when absent or not a number."""
    return int(raw) if raw.isdigit() else None
