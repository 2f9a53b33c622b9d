"""The typed event stream and the routing feature's AMI adapter that feeds it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ivr.ami.codec import AmiMessage
from ivr.calls.events import CallEventAdapter
from ivr.core.callstore import CallStore
from ivr.core.events import (
    AgentStateChanged,
    Answered,
    CallDecided,
    CallEvent,
    CallStep,
    CallSteps,
    Event,
    EventStream,
    HungUp,
    Queued,
    TransferStep,
    call_event,
)

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return T0


def ami(**fields: str) -> AmiMessage:
    return AmiMessage(tuple(fields.items()))


def test_step_names_become_typed_events() -> None:
    assert isinstance(call_event("decided", "c1", T0, {}), CallDecided)
    assert isinstance(call_event("queued", "c1", T0, {"queue": "hl-tax"}), Queued)
    transfer = call_event("transfer_failed", "c1", T0, {"status": "NOANSWER"})
    assert isinstance(transfer, TransferStep) and transfer.step == "transfer_failed"
    other = call_event("something_new", "c1", T0, {})
    assert isinstance(other, CallStep) and other.step == "something_new"


def test_inline_subscribers_see_events_of_their_kinds_in_order() -> None:
    stream = EventStream()
    calls: list[str] = []
    agents: list[str] = []
    stream.subscribe("calls", lambda e: calls.append(e.step), (CallEvent,))  # type: ignore[attr-defined]
    stream.subscribe("agents", lambda e: agents.append(e.state), (AgentStateChanged,))  # type: ignore[attr-defined]
    steps = CallSteps(stream)
    steps.append("c1", "decided", T0, number="12345")
    stream.publish(AgentStateChanged(at=T0, agent_id="1001", state="ringing"))
    steps.append("c1", "hangup", T0)
    assert calls == ["decided", "hangup"]
    assert agents == ["ringing"]


def test_a_failing_subscriber_never_stops_the_publisher_or_the_others() -> None:
    stream = EventStream()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    stream.subscribe("broken", broken)
    stream.subscribe("fine", seen.append)
    stream.publish(HungUp(at=T0, call_id="c1"))
    assert len(seen) == 1


async def test_a_slow_queue_drops_its_oldest_events_and_counts_them() -> None:
    stream = EventStream()
    queue = stream.queue("dashboard", (CallEvent,), maxsize=3)
    for n in range(5):
        stream.publish(Queued(at=T0, call_id=f"c{n}"))
    assert queue.dropped == 2
    got = [await queue.get() for _ in range(3)]
    assert [e.call_id for e in got] == ["c2", "c3", "c4"]  # type: ignore[attr-defined]
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    stream.publish(Queued(at=T0, call_id="c5"))
    assert (await asyncio.wait_for(waiter, 1)).call_id == "c5"  # type: ignore[attr-defined]


class Recorder:
    def __init__(self) -> None:
        self.steps: list[tuple[str, str, dict[str, Any]]] = []

    def append(self, call_id: str, step: str, at: datetime, **data: Any) -> None:
        self.steps.append((call_id, step, data))


def test_the_dialplans_events_become_the_calls_steps() -> None:
    recorder = Recorder()
    adapter = CallEventAdapter(recorder, Clock())
    call = "1700000000.7"
    adapter.handle(ami(Event="UserEvent", UserEvent="HotlineQueue", CallId=call, Uniqueid=call,
                       Queue="hl-tax", Skill="tax", Priority="2", Channel="PJSIP/trunk-7"))
    adapter.handle(ami(Event="AgentConnect", Uniqueid=call, Queue="hl-tax", MemberName="1007",
                       Interface="PJSIP/agent-1007", HoldTime="6", RingTime="2"))
    adapter.handle(ami(Event="AgentConnect", Uniqueid="someone-else", Queue="hl-tax"))
    adapter.handle(ami(Event="Hangup", Uniqueid=call, Cause="16", **{"Cause-txt": "Normal"}))
    adapter.handle(ami(Event="Hangup", Uniqueid=call, Cause="16"))  # not ours any more
    assert [(c, s) for c, s, _ in recorder.steps] == [
        (call, "queued"), (call, "answered"), (call, "hangup")]
    assert recorder.steps[0][2]["queue"] == "hl-tax"
    answered = recorder.steps[1][2]
    assert (answered["agent"], answered["hold_s"], answered["ring_s"]) == ("1007", 6, 2)


async def test_the_call_store_keeps_what_the_stream_carries(tmp_path: Path) -> None:
    stream = EventStream()
    async with CallStore(tmp_path / "calls.db") as store:
        stream.subscribe("call-store", store.record, (CallEvent,))  # type: ignore[arg-type]
        steps = CallSteps(stream)
        steps.append("c9", "decided", T0, number="12366", caller="138******00")
        stream.publish(Answered(at=T0, call_id="c9", data={"agent": "1007"}))
        stream.publish(AgentStateChanged(at=T0, agent_id="1007", state="on_call"))
        record = await store.get("c9")
    assert record is not None
    assert [s["step"] for s in record.steps] == ["decided", "answered"]
    assert record.steps[0]["number"] == "12366"


async def test_a_routed_call_that_ends_before_any_dialplan_event_still_gets_its_hangup(
        tmp_path: Path) -> None:
    from ivr.calls.feature import register
    from ivr.config.engine import load_engine_config
    from testkit.core import make_core

    config = load_engine_config(Path(__file__).resolve().parents[2])
    async with CallStore(tmp_path / "calls.db") as store:
        core = make_core(lambda: config, store, Clock(), tmp_path)
        feature = register(core)
        core.steps.append("1700000000.9", "decided", T0, number="12345")
        (subscription,) = feature.ami
        assert subscription.inline is not None
        subscription.inline(ami(Event="Hangup", Uniqueid="1700000000.9", Cause="16"))
        subscription.inline(ami(Event="Hangup", Uniqueid="1700000000.8", Cause="16"))  # not ours
        record = await store.get("1700000000.9")
        other = await store.get("1700000000.8")
    assert record is not None and [s["step"] for s in record.steps] == ["decided", "hangup"]
    assert other is None
