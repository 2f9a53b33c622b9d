"""One typed event stream: features publish domain events, subscribers attach without
touching them.

Publishing never blocks and never raises.  Two kinds of subscriber:

- *inline* subscribers (:meth:`EventStream.subscribe`) run inside :meth:`publish`, in
  order; they must only hand the event on (the call store enqueues it for its writer
  thread), so a step is queued for the store before the publisher's next line runs;
- *queued* subscribers (:meth:`EventStream.queue`) get a bounded queue they read with
  ``async for``; when a slow reader lets it fill, the oldest event is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened in the engine, at a time."""

    at: datetime


@dataclass(frozen=True, kw_only=True)
class CallEvent(Event):
    """One step of one call; the call store keeps every one of them."""

    STEP: ClassVar[str] = ""
    call_id: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def step(self) -> str:
        """The step's name in the call record."""
        return self.STEP


_BY_STEP: dict[str, type[CallEvent]] = {}


def _step(name: str) -> Callable[[type[CallEvent]], type[CallEvent]]:
    def register(cls: type[CallEvent]) -> type[CallEvent]:
        cls.STEP = name
        _BY_STEP[name] = cls
        return cls
    return register


@_step("decided")
class CallDecided(CallEvent):
    """The routing decision for a new call (line, mode, phase, prompts, target)."""


@_step("prompts_played")
class PromptsPlayed(CallEvent):
    """The dialplan played the decision's prompts."""


@_step("dial")
class Dialled(CallEvent):
    """The dialplan dialled a target (a sub-center, kept seats, an emergency trunk)."""


@_step("ringing")
class Ringing(CallEvent):
    """A dialled target is ringing."""


@_step("dial_result")
class DialResult(CallEvent):
    """How a dial attempt ended (ANSWER, NOANSWER, BUSY, …)."""


@_step("queued")
class Queued(CallEvent):
    """The call joined an ACD queue."""


@_step("answered")
class Answered(CallEvent):
    """An agent answered the queued call (who, after how long a wait)."""


@_step("queue_result")
class QueueResult(CallEvent):
    """How the queue ended for the call."""


@_step("fallback")
class FellBack(CallEvent):
    """The dialplan sent the call to the fallback desk."""


@_step("callback_requested")
class CallbackRequested(CallEvent):
    """The caller was promised a call back."""


@_step("callback_dialled")
class CallbackDialled(CallEvent):
    """The engine started calling the caller back: the agent's phone rings first (ivr/callbacks)."""


@_step("callback_outcome")
class CallbackOutcome(CallEvent):
    """How a callback attempt ended (connected, no_answer, busy, agent_no_answer) or why the
    entry closed (cancelled, expired); ``state`` says where the entry stands now."""


@_step("listen_dialled")
class ListenDialled(CallEvent):
    """The dialplan dialled the AudioSocket leg that listens to the caller."""


@_step("listening")
class ListeningStarted(CallEvent):
    """The controller is listening to the caller."""


@_step("classified")
class Classified(CallEvent):
    """What the caller said, classified (or why not)."""


@_step("speech_routed")
class SpeechRouted(CallEvent):
    """The dialplan re-routed the call on the classification."""


@_step("hangup")
class HungUp(CallEvent):
    """The caller's channel hung up."""


@dataclass(frozen=True, kw_only=True)
class TransferStep(CallEvent):
    """One step of a transfer of the call (``transfer_requested``, ``transfer_failed`` …)."""

    name: str

    @property
    def step(self) -> str:
        return self.name


@dataclass(frozen=True, kw_only=True)
class CallStep(CallEvent):
    """A call step no typed event describes yet (kept, never dropped)."""

    name: str

    @property
    def step(self) -> str:
        return self.name


def call_event(step: str, call_id: str, at: datetime, data: Mapping[str, Any]) -> CallEvent:
    """The typed event for a step name (``decided`` → :class:`CallDecided`)."""
    if step.startswith("transfer_"):
        return TransferStep(at=at, call_id=call_id, data=data, name=step)
    cls = _BY_STEP.get(step)
    if cls is None:
        return CallStep(at=at, call_id=call_id, data=data, name=step)
    return cls(at=at, call_id=call_id, data=data)


@dataclass(frozen=True, kw_only=True)
class WorkOrderCreated(Event):
    """A work order was filed for a department."""

    order_id: str
    call_id: str
    target: str
    department: str | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class AgentStateChanged(Event):
    """An agent's ACD state moved (logged in, ringing, talking, wrap-up, paused, …)."""

    agent_id: str
    state: str
    previous: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskRestarted(Event):
    """The supervisor restarted a failed background task."""

    task: str
    error: str
    restarts: int


@_step("rated")
class RatingRecorded(CallEvent):
    """The caller rated the call after the agent hung up (好差评), or did not: ``data`` has
    ``level`` (1 非常满意 … 5 非常不满意, None when not rated), ``label``, ``outcome``
    (``rated``, ``no_input``, ``hangup``), ``agent``, ``skill``, ``line`` (ivr/ratings)."""


@dataclass(frozen=True, kw_only=True)
class FollowUpOpened(Event):
    """A bad rating (不满意 / 非常不满意) opened a follow-up (回访) for a supervisor group."""

    followup_id: str
    call_id: str
    group: str
    agent: str | None
    level: int
    due: str  # local date, ISO 8601


@dataclass(frozen=True, kw_only=True)
class FollowUpClosed(Event):
    """A follow-up was marked done, with a note."""

    followup_id: str
    call_id: str
    group: str
    note: str
    by: str | None = None


Handler = Callable[[Event], None]


class EventQueue:
    """A bounded, drop-oldest queue of events for one asynchronous subscriber."""

    def __init__(self, name: str, kinds: tuple[type[Event], ...], maxsize: int) -> None:
        self.name = name
        self.kinds = kinds
        self.dropped = 0
        self._items: deque[Event] = deque(maxlen=maxsize)
        self._ready = asyncio.Event()

    def put(self, event: Event) -> None:
        """Queue an event; when full, the oldest one is dropped and counted."""
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(event)
        self._ready.set()

    async def get(self) -> Event:
        """The next event, waiting for one."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.get()


class EventStream:
    """The engine's one in-process event stream."""

    def __init__(self) -> None:
        self._inline: list[tuple[str, tuple[type[Event], ...], Handler]] = []
        self._queues: list[EventQueue] = []
        self.published = 0

    def subscribe(self, name: str, handler: Handler,
                  kinds: tuple[type[Event], ...] = (Event,)) -> None:
        """Call ``handler`` inside :meth:`publish` for every event of ``kinds``; it must not block."""
        self._inline.append((name, kinds, handler))

    def queue(self, name: str, kinds: tuple[type[Event], ...] = (Event,),
              maxsize: int = 10_000) -> EventQueue:
        """A bounded queue of every event of ``kinds``, for a subscriber task."""
        queue = EventQueue(name, kinds, maxsize)
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: EventQueue) -> None:
        """Stop filling a queue."""
        if queue in self._queues:
            self._queues.remove(queue)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber; a subscriber's failure is logged, never raised."""
        self.published += 1
        for name, kinds, handler in self._inline:
            if isinstance(event, kinds):
                try:
                    handler(event)
                except Exception:
                    log.exception("event subscriber %s failed on %s", name, type(event).__name__)
        for queue in self._queues:
            if isinstance(event, queue.kinds):
                queue.put(event)


class StepRecorder(Protocol):
    """Anything that records call steps: :class:`CallSteps` in the engine, a store in tests."""

    def append(self, call_id: str, step: str, at: datetime, **data: Any) -> None:
        """Record one step of a call."""


class CallSteps:
    """What features hold to record a call's steps: builds the typed event and publishes it.

    ``steps.append(call_id, "queued", at, queue="hl-tax")`` publishes
    :class:`Queued`; the call store, a subscriber, keeps it.
    """

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    def append(self, call_id: str, step: str, at: datetime, **data: Any) -> None:
        """Publish one step of a call."""
        self._stream.publish(call_event(step, call_id, at, data))


# --- quality control (ivr/quality, docs/quality.md) ---------------------------------------

@_step("recording_started")
class RecordingStarted(CallEvent):
    """The call's recording began: a person answered (``data``: ``path``, ``format``,
    ``parties``)."""


@_step("recording")
class RecordingStopped(CallEvent):
    """The caller hung up and the recording's file is closed and described (``data``:
    ``path``, ``kind``, ``format``, ``started``, ``ended``, ``duration_s``, ``size_bytes``,
    ``parties``)."""


@_step("recording_deleted")
class RecordingDeleted(CallEvent):
    """Retention deleted a recording of the call (``data``: ``path``, ``kind``, ``reason``,
    ``age_days``)."""


@_step("recording_skipped")
class RecordingSkipped(CallEvent):
    """The call is not recorded (``data``: ``reason``: excluded line or skill, low disk,
    nobody to talk to)."""


@dataclass(frozen=True, kw_only=True)
class RecordingDiskLow(Event):
    """Free space in the recordings store crossed ``recording.min_free_mb`` (either way):
    ``low`` stops recording new calls (they still connect), not ``low`` resumes."""

    low: bool
    free_mb: int
    threshold_mb: int
    store: str


@dataclass(frozen=True, kw_only=True)
class AuditRecorded(Event):
    """An audit entry was written (a monitoring session's start, mode switch, end or
    refusal; a recording's export or deletion): ``entry`` is the row as JSON."""

    entry: Mapping[str, Any]
