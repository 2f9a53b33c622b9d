"""What Asterisk reports during a transfer -> the transfer's state, the call record and work orders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ivr.ami.codec import AmiMessage
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.core.callstore import CallStore
from ivr.core.events import WorkOrderCreated
from ivr.masking import mask_number
from ivr.transfers.feature import build
from ivr.transfers.model import Outcome, TargetKind, Transfer, TransferMode, TransferState
from ivr.workorders import TARGET_KINDS, InMemoryWorkOrderStore, WorkOrder, WorkOrderStatus, WorkOrderStore
from testkit.core import make_core
from tests.unit.transfer_fakes import (
    AGENT,
    CALL_ID,
    CALLER,
    T0,
    FakeAmi,
    FixedClock,
    event,
    user_event,
)

REPO = Path(__file__).resolve().parent.parent.parent
CONF = f"hlx-{CALL_ID}"
LEG = "Local/s@hotline-xfer-leg-00000003;1"
LEG2 = "Local/s@hotline-xfer-leg-00000003;2"
SUBCENTER_PEER = "PJSIP/subcenters-0000000d"
CALLER_MASKED = mask_number("13800138000")


@pytest.fixture(scope="module")
def config() -> EngineConfig:
    return load_engine_config(REPO)


class Hotline:
    """One controller: the transfer feature on a fake AMI, wired by the feature itself."""

    def __init__(self, config: EngineConfig, journal: CallStore, ami: FakeAmi | None = None) -> None:
        self.config = config
        self.clock = FixedClock()
        self.journal = journal
        self.ami = ami or FakeAmi()
        self.workorders = InMemoryWorkOrderStore()
        self.core = make_core(lambda: self.config, journal, self.clock, journal.path.parent,
                              ami=lambda: self.ami)
        self.core.provide(WorkOrderStore, self.workorders)  # type: ignore[type-abstract]
        parts = build(self.core)
        self.registry, self.service, self.adapter = parts.registry, parts.service, parts.events

    @property
    def notified(self) -> list[str]:
        """Work orders announced on the event stream (ids)."""
        return [e.order_id for e in self.core.published if isinstance(e, WorkOrderCreated)]

    @property
    def cancel_requests(self) -> list[str]:
        """Background work the adapter asked for: stopping a ringing target."""
        return [name for name in self.core.spawned if name.startswith("xfer-cancel-")]

    def restarted(self) -> Hotline:
        """The controller process again: same call store, empty memory."""
        return Hotline(self.config, self.journal, self.ami)

    async def feed(self, *events: AmiMessage) -> None:
        for one in events:
            self.clock.advance(1)
            await self.adapter.handle(one)

    def steps(self, call_id: str = CALL_ID) -> list[dict[str, Any]]:
        record = self.journal.get_blocking(call_id)
        return [s for s in (record.steps if record else []) if s["step"].startswith("transfer_")]

    def step_names(self, call_id: str = CALL_ID) -> list[str]:
        return [s["step"] for s in self.steps(call_id)]

    def orders(self) -> list[WorkOrder]:
        return self.workorders.list(limit=None)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[CallStore]:
    """The call's record so far: it reached 12345 on 12366 (tax) and was classified."""
    journal = CallStore(tmp_path / "calls.db")
    journal.open()
    journal.append(CALL_ID, "decided", T0, number="12366", caller=CALLER_MASKED, region="sichuan",
                   mode="sub_center", phase="active", prompts=["greeting"], target_kind="queue",
                   skill="tax", queue="hl-tax", dial=None, priority=0, tags=[])
    journal.append(CALL_ID, "classified", T0, classification={"domain": "tax", "confidence": 0.8},
                   transcript="我的发票丢了怎么补办")
    journal.append(CALL_ID, "queued", T0, queue="hl-tax")
    yield journal
    journal.close()


@pytest.fixture
async def hotline(config: EngineConfig, journal: CallStore) -> AsyncIterator[Hotline]:
    one = Hotline(config, journal)
    yield one
    await one.core.drain()


def state(t: Transfer) -> TransferState:
    """Read through a call, so mypy does not keep a narrowed state across events."""
    return t.state


def hold(t: Transfer) -> AmiMessage:
    return user_event("Hold", t.call_id, t.id)


def dialling(t: Transfer, attempt: str = "primary", dial: str = "PJSIP/12366@subcenters") -> AmiMessage:
    return user_event("Dialling", t.call_id, t.id, channel=LEG2, Attempt=attempt, Dial=dial)


def ringing(t: Transfer) -> AmiMessage:
    return event("DialBegin", Channel=LEG2, Uniqueid=t.id + "-leg", DestChannel=SUBCENTER_PEER,
                 DestUniqueid="1763900040.13", DialString="12366@subcenters")


def attempt(t: Transfer, status: str, which: str = "primary") -> AmiMessage:
    return user_event("Attempt", t.call_id, t.id, channel=LEG2, Attempt=which, Status=status)


def answered(t: Transfer) -> AmiMessage:
    return user_event("Answered", t.call_id, t.id, channel=LEG)


def failed(t: Transfer, status: str) -> AmiMessage:
    return user_event("Failed", t.call_id, t.id, channel=LEG2, Status=status)


def returned(t: Transfer, to: str = "agent") -> AmiMessage:
    return user_event("Returned", t.call_id, t.id, channel=LEG2, To=to)


def conf_leave(channel: str, uniqueid: str, conference: str = CONF) -> AmiMessage:
    return event("ConfbridgeLeave", Conference=conference, BridgeUniqueid="c0nf", Channel=channel,
                 Uniqueid=uniqueid, Admin="No")


def hangup(channel: str = CALLER, uniqueid: str = CALL_ID) -> AmiMessage:
    return event("Hangup", Channel=channel, Uniqueid=uniqueid, Linkedid=uniqueid, Cause="16",
                 **{"Cause-txt": "Normal Clearing"})


async def start(hotline: Hotline, target: str = "12366", **how: Any) -> Transfer:
    return await hotline.service.start(target, call_id=CALL_ID, summary="发票遗失补办", **how)


async def test_answered_three_way_then_the_agent_leaves(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(hold(t), user_event("AgentWait", CALL_ID, t.id, channel=AGENT), dialling(t),
                       ringing(t))
    assert state(t) is TransferState.DIALLING
    await hotline.feed(attempt(t, "ANSWER"), answered(t))
    assert (state(t), t.outcome) == (TransferState.THREE_WAY, Outcome.ANSWERED)
    await hotline.feed(conf_leave(AGENT, "1763900000.8"))
    assert state(t) is TransferState.HANDED_OVER
    await hotline.feed(conf_leave(LEG, t.id), hangup())
    assert state(t) is TransferState.ENDED
    assert hotline.step_names() == [
        "transfer_requested", "transfer_hold", "transfer_dialling", "transfer_ringing", "transfer_attempt",
        "transfer_answered", "transfer_agent_left", "transfer_ended"]
    by_name = {s["step"]: s for s in hotline.steps()}
    assert by_name["transfer_dialling"]["dial"] == "PJSIP/12366@subcenters"
    assert by_name["transfer_ringing"]["dest"] == SUBCENTER_PEER
    assert (by_name["transfer_attempt"]["attempt"], by_name["transfer_attempt"]["outcome"]) == (
        "primary", "answered")
    assert by_name["transfer_answered"]["state"] == "three_way"
    assert by_name["transfer_agent_left"]["state"] == "handed_over"
    assert all(s["transfer"] == t.id and s["target"] == "subcenter-12366"
               for s in hotline.steps()[1:])
    assert hotline.orders() == []  # answered: nothing for the department to follow up
    assert [state for _, state in t.history] == [TransferState.DIALLING, TransferState.THREE_WAY,
                                                 TransferState.HANDED_OVER, TransferState.ENDED]


async def test_the_target_leaving_first_keeps_the_three_way_state(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(dialling(t), answered(t), conf_leave(LEG, t.id))
    assert t.state is TransferState.THREE_WAY
    assert hotline.step_names()[-1] == "transfer_target_left"


async def test_no_answer_writes_one_work_order_and_returns_the_caller(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(hold(t), dialling(t), ringing(t), attempt(t, "NOANSWER"), failed(t, "NOANSWER"),
                 returned(t))
    assert (t.state, t.outcome) == (TransferState.RETURNED, Outcome.NO_ANSWER)
    (order,) = hotline.orders()
    assert order.to_json() | {"created_at": None, "history": None} == {
        "id": "WO-20261123-0001", "call_id": CALL_ID, "created_at": None, "status": "open",
        "target": "subcenter-12366", "target_kind": "subcenter", "department": "税务 tax sub-center",
        "line": "12366", "skill": "tax", "caller_masked": CALLER_MASKED, "reason": "no_answer",
        "summary": "发票遗失补办", "classification": {"domain": "tax", "confidence": 0.8},
        "transcript": "我的发票丢了怎么补办", "agent": "1001", "history": None}
    assert "13800138000" not in str(order.to_json())
    assert order.status is WorkOrderStatus.OPEN and order.created_at == T0 + timedelta(seconds=5)  # Failed
    assert t.workorder_id == order.id
    assert hotline.notified == [order.id]
    fail = next(s for s in hotline.steps() if s["step"] == "transfer_failed")
    assert (fail["status"], fail["outcome"], fail["workorder"]) == ("NOANSWER", "no_answer", order.id)
    back = hotline.steps()[-1]
    assert (back["step"], back["to"], back["state"]) == ("transfer_returned", "agent", "returned")
    await hotline.feed(hangup())
    assert t.state is TransferState.ENDED and len(hotline.orders()) == 1


@pytest.mark.parametrize(("status", "reason"), [("BUSY", "busy"), ("CHANUNAVAIL", "failed"),
                                                ("CONGESTION", "failed")])
async def test_busy_or_down_targets_get_a_work_order_with_that_reason(
        hotline: Hotline, status: str, reason: str) -> None:
    t = await start(hotline, "utility-power")
    await hotline.feed(dialling(t, dial="PJSIP/95598@subcenters"), attempt(t, status), failed(t, status))
    (order,) = hotline.orders()
    assert (order.target, order.target_kind, order.reason) == ("utility-power", "utility", reason)


async def test_emergency_that_nobody_answers_returns_the_caller_without_a_work_order(
        hotline: Hotline) -> None:
    t = await start(hotline, "110")
    await hotline.feed(dialling(t, dial="PJSIP/110@emergency"), attempt(t, "CHANUNAVAIL"),
                 dialling(t, "backup", "PJSIP/110@emergency-backup"), attempt(t, "NOANSWER", "backup"),
                 failed(t, "NOANSWER"), returned(t))
    assert hotline.orders() == [] and hotline.notified == []
    assert (t.state, t.outcome, t.workorder_id) == (TransferState.RETURNED, Outcome.NO_ANSWER, None)
    fail = next(s for s in hotline.steps() if s["step"] == "transfer_failed")
    assert fail["workorder"] is None
    attempts = [(s["attempt"], s["outcome"]) for s in hotline.steps() if s["step"] == "transfer_attempt"]
    assert attempts == [("primary", "failed"), ("backup", "no_answer")]


async def test_emergency_answered_on_the_backup_trunk(hotline: Hotline) -> None:
    t = await start(hotline, "110")
    await hotline.feed(dialling(t, dial="PJSIP/110@emergency"), attempt(t, "CHANUNAVAIL"),
                 dialling(t, "backup", "PJSIP/110@emergency-backup"), attempt(t, "ANSWER", "backup"),
                 answered(t))
    assert (t.state, t.outcome) == (TransferState.THREE_WAY, Outcome.ANSWERED)


async def test_endpoint_with_on_failure_return_gets_no_work_order(
        hotline: Hotline, config: EngineConfig) -> None:
    hotline.config = _with_endpoint(config, "utility-gas", on_failure="return")
    t = await start(hotline, "utility-gas")
    await hotline.feed(dialling(t), failed(t, "NOANSWER"), returned(t))
    assert hotline.orders() == [] and t.state is TransferState.RETURNED


async def test_kept_seats_that_do_not_answer_get_a_work_order(
        hotline: Hotline, config: EngineConfig) -> None:
    """``kind: kept_seats`` is a documented endpoint kind; its failure must not crash the
    adapter (and with it the controller's AMI loop)."""
    hotline.config = _with_endpoint(config, "utility-gas", kind="kept_seats")
    t = await start(hotline, "utility-gas")
    await hotline.feed(dialling(t), failed(t, "NOANSWER"), returned(t))
    (order,) = hotline.orders()
    assert (order.target, order.target_kind, order.reason) == ("utility-gas", "kept_seats", "no_answer")
    assert t.state is TransferState.RETURNED


def test_every_transfer_target_kind_can_carry_a_work_order() -> None:
    assert {kind.value for kind in TargetKind} <= TARGET_KINDS


async def test_nobody_to_return_to_sends_the_caller_back_to_the_queue(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(dialling(t), answered(t), returned(t, "queue"))
    assert t.state is TransferState.RETURNED
    assert hotline.steps()[-1]["to"] == "queue"


async def test_the_agent_cancelling_from_the_phone_is_recorded(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(dialling(t), user_event("CancelRequest", CALL_ID, t.id, channel=AGENT))
    step = hotline.steps()[-1]
    assert (step["step"], step["by"]) == ("transfer_cancel_requested", "agent-phone")
    # the controller is asked to stop the ringing
    assert hotline.cancel_requests == [f"xfer-cancel-{CALL_ID}"]


async def test_blind_answered_on_the_callers_dial_hands_the_caller_over(hotline: Hotline) -> None:
    t = await start(hotline, "utility-power", mode=TransferMode.BLIND)
    await hotline.feed(dialling(t, dial="PJSIP/95598@subcenters"),
                 event("DialBegin", Channel=CALLER, Uniqueid=CALL_ID, DestChannel=SUBCENTER_PEER),
                 event("DialEnd", Channel=CALLER, Uniqueid=CALL_ID, DestChannel=SUBCENTER_PEER,
                       DialStatus="ANSWER"),
                 attempt(t, "ANSWER"))
    assert (t.state, t.outcome) == (TransferState.HANDED_OVER, Outcome.ANSWERED)
    assert "transfer_answered" in hotline.step_names()
    assert hotline.orders() == []


async def test_blind_no_answer_then_the_agent_answering_again_is_not_a_hand_over(hotline: Hotline) -> None:
    t = await start(hotline, "utility-power", mode=TransferMode.BLIND)
    await hotline.feed(dialling(t, dial="PJSIP/95598@subcenters"), attempt(t, "NOANSWER"),
                 failed(t, "NOANSWER"), returned(t),
                 # the dialplan rings the same agent again on the caller's channel
                 event("DialEnd", Channel=CALLER, Uniqueid=CALL_ID, DestChannel="PJSIP/agent-1001-0000000e",
                       DialStatus="ANSWER"))
    assert (t.state, t.outcome) == (TransferState.RETURNED, Outcome.NO_ANSWER)
    (order,) = hotline.orders()
    assert order.agent == "1001"


async def test_after_a_restart_a_failure_still_writes_the_work_order(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(hold(t), dialling(t), ringing(t))
    later = hotline.restarted()  # the controller restarted while the sub-center rang
    await later.feed(attempt(t, "NOANSWER"), failed(t, "NOANSWER"), returned(t))
    recovered = later.registry.get(t.id)
    assert recovered is not None and recovered is not t
    assert (recovered.state, recovered.outcome, recovered.mode) == (
        TransferState.RETURNED, Outcome.NO_ANSWER, TransferMode.ATTENDED)
    (order,) = later.orders()
    assert (order.target, order.target_kind, order.reason, order.summary) == (
        "subcenter-12366", "subcenter", "no_answer", "发票遗失补办")
    assert (order.line, order.skill, order.caller_masked, order.agent) == (
        "12366", "tax", CALLER_MASKED, "1001")
    assert order.department == "税务 tax sub-center"
    assert recovered.workorder_id == order.id


async def test_after_a_restart_an_emergency_failure_writes_none(hotline: Hotline) -> None:
    t = await start(hotline, "110")
    later = hotline.restarted()
    await later.feed(failed(t, "NOANSWER"), returned(t))
    assert later.orders() == []


async def test_after_a_restart_on_failure_return_is_still_respected(
        hotline: Hotline, config: EngineConfig) -> None:
    hotline.config = _with_endpoint(config, "utility-gas", on_failure="return")
    t = await start(hotline, "utility-gas")
    later = hotline.restarted()
    await later.feed(failed(t, "NOANSWER"), returned(t))
    assert later.orders() == []


async def test_after_a_restart_in_the_three_way_call_the_agent_leaving_is_recorded(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(dialling(t), answered(t))
    later = hotline.restarted()
    await later.feed(conf_leave(AGENT, "1763900000.8"))
    recovered = later.registry.for_call(CALL_ID)
    assert recovered is not None and recovered.state is TransferState.HANDED_OVER
    assert later.step_names()[-1] == "transfer_agent_left"


async def test_the_newest_transfer_of_the_call_is_the_one_recovered(hotline: Hotline) -> None:
    first = await start(hotline)
    await hotline.feed(dialling(first), failed(first, "NOANSWER"), returned(first))
    second = await start(hotline, "utility-water")
    later = hotline.restarted()
    await later.feed(conf_leave(AGENT, "1763900000.8"))  # not in a three-way call: nothing happens
    await later.feed(dialling(second, dial="PJSIP/96116@subcenters"), failed(second, "BUSY"))
    assert [(o.target, o.reason) for o in later.orders()] == [("utility-water", "busy")]


async def test_events_of_other_calls_and_other_conferences_are_ignored(hotline: Hotline) -> None:
    t = await start(hotline)
    before = hotline.steps()
    other = "1763900010.9"
    await hotline.feed(
        user_event("Failed", other, "xfer-000000000000", channel="PJSIP/trunk-00000009", Status="NOANSWER"),
        user_event("Answered", other, "", channel="PJSIP/trunk-00000009"),
        user_event("Failed", CALL_ID, "xfer-ffffffffffff", Status="NOANSWER"),  # no such transfer
        AmiMessage((("Event", "UserEvent"), ("UserEvent", "HotlinePromptsDone"), ("CallId", CALL_ID))),
        event("DialBegin", Channel="PJSIP/trunk-00000009", Uniqueid=other, DestChannel="PJSIP/agent-1002"),
        event("DialBegin", Channel="Local/x;2", Uniqueid="xfer-000000000000-leg", DestChannel="PJSIP/x"),
        event("DialEnd", Channel="PJSIP/trunk-00000009", Uniqueid=other, DialStatus="ANSWER"),
        conf_leave("PJSIP/agent-1002-0000000b", "1763900010.10", conference=f"hlx-{other}"),
        conf_leave(AGENT, "1763900000.8", conference="meetme-7"),
        hangup("PJSIP/trunk-00000009", other),
        event("Newchannel", Channel="PJSIP/trunk-00000010", Uniqueid="1763900050.14"),
    )
    assert hotline.steps() == before
    assert t.state is TransferState.DIALLING
    assert hotline.orders() == []
    assert hotline.journal.get_blocking(other) is None


async def test_a_hangup_after_the_transfer_ended_is_not_recorded_twice(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(dialling(t), hangup(), hangup())
    assert hotline.step_names().count("transfer_ended") == 1
    assert t.state is TransferState.ENDED


async def test_late_events_after_the_end_are_recorded_but_change_no_state(hotline: Hotline) -> None:
    t = await start(hotline)
    await hotline.feed(dialling(t), hangup(), answered(t))  # the target answered as the caller hung up
    assert t.state is TransferState.ENDED
    assert hotline.steps()[-1]["state"] == "ended"


def _with_endpoint(config: EngineConfig, name: str, **changes: Any) -> EngineConfig:
    import dataclasses

    endpoints = dict(config.rules.endpoints)
    endpoints[name] = endpoints[name].model_validate({**endpoints[name].model_dump(), **changes})
    return dataclasses.replace(config, rules=config.rules.model_copy(update={"endpoints": endpoints}))
