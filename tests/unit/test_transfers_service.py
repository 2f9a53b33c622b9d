"""Starting, cancelling and leaving transfers: which AMI actions reach Asterisk, on which channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from ivr.agi.codec import AgiEnvironment
from ivr.agi.server import AgiSession
from ivr.config.engine import EngineConfig, load_engine_config
from ivr.core.callstore import CallStore
from ivr.transfers.api import TransferApi
from ivr.transfers.feature import build
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
    UnknownTarget,
)
from ivr.transfers.service import AmiPort
from ivr.workorders import InMemoryWorkOrderStore, WorkOrderStore
from testkit.core import make_core
from tests.unit.transfer_fakes import (
    AGENT,
    AGENT_UNIQUEID,
    BRIDGE,
    CALL_ID,
    CALLER,
    T0,
    FakeAmi,
    FixedClock,
    channel,
    user_event,
)

REPO = Path(__file__).resolve().parent.parent.parent
CONF = f"hlx-{CALL_ID}"


@pytest.fixture(scope="module")
def config() -> EngineConfig:
    return load_engine_config(REPO)


class Controller:
    """The transfer feature around one fake AMI, wired by the feature itself."""

    def __init__(self, config: EngineConfig, journal_path: Path, ami: FakeAmi | None = None) -> None:
        self.config = config
        self.journal_path = journal_path
        self.ami: FakeAmi | None = ami or FakeAmi()
        self.clock = FixedClock()
        self.journal = CallStore(journal_path)
        self.journal.open()
        self.workorders = InMemoryWorkOrderStore()
        self.core = make_core(lambda: self.config, self.journal, self.clock, journal_path.parent,
                              ami=self._port)
        self.core.provide(WorkOrderStore, self.workorders)  # type: ignore[type-abstract]
        parts = build(self.core)
        self.registry, self.service, self.events = parts.registry, parts.service, parts.events
        self.codes = parts.codes

    def _port(self) -> AmiPort | None:
        return self.ami

    @property
    def fake(self) -> FakeAmi:
        assert self.ami is not None
        return self.ami

    def restarted(self) -> Controller:
        """A new controller process: same call store and Asterisk, nothing in memory."""
        self.journal.close()  # the old process is gone: what it recorded is on disk
        return Controller(self.config, self.journal_path, self.fake)

    def steps(self, call_id: str = CALL_ID) -> list[dict[str, Any]]:
        record = self.journal.get_blocking(call_id)
        return record.steps if record else []

    def step_names(self, call_id: str = CALL_ID) -> list[str]:
        return [s["step"] for s in self.steps(call_id)]


@pytest.fixture
async def ctl(config: EngineConfig, tmp_path: Path) -> AsyncIterator[Controller]:
    controller = Controller(config, tmp_path / "calls.db")
    yield controller
    await controller.core.drain()


def leg_up(ctl: Controller, transfer: Transfer) -> str:
    """The originated target leg now shows in CoreShowChannels; its ;1 half's name."""
    name = "Local/s@hotline-xfer-leg-00000003;1"
    ctl.fake.channels.append(channel(name, transfer.id, CONF, context="hotline-xfer", exten="target",
                                     application="ConfBridge"))
    return name


# --- start ---------------------------------------------------------------------------------------


async def test_attended_transfer_sets_variables_redirects_both_and_originates_the_target(
        ctl: Controller, config: EngineConfig) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID, summary="发票遗失补办")
    assert transfer.state is TransferState.DIALLING
    assert (transfer.target.name, transfer.mode, transfer.caller_channel, transfer.agent_channel) == (
        "subcenter-12366", TransferMode.ATTENDED, CALLER, AGENT)
    assert transfer.id.startswith("xfer-")

    kinds = [a[0] for a in ctl.fake.actions]
    # variables first (the dialplan reads them), then one Redirect of both, then the target leg
    assert kinds == ["Getvar"] + ["Setvar"] * (len(kinds) - 3) + ["Redirect", "Originate"]

    common = {"HOTLINE_XFER_CONF": CONF, "HOTLINE_XFER_ID": transfer.id,
              "HOTLINE_XFER_MODE": "attended", "HOTLINE_CALL_ID": CALL_ID}
    wait_s = config.rules.timing.subcenter_answer_s + config.rules.transfers.agent_wait_margin_s
    assert ctl.fake.setvars() == {
        CALLER: {**common, "HOTLINE_XFER_AGENT": AGENT},
        AGENT: {**common, "HOTLINE_XFER_WAIT": str(wait_s)},
    }
    (_, redirect, _), = ctl.fake.named("Redirect")
    assert redirect == {"Channel": CALLER, "Context": "hotline-xfer", "Exten": "caller", "Priority": "1",
                        "ExtraChannel": AGENT, "ExtraContext": "hotline-xfer",
                        "ExtraExten": "agent-wait", "ExtraPriority": "1"}
    (_, originate, variables), = ctl.fake.named("Originate")
    answer_s = config.rules.timing.subcenter_answer_s
    assert originate == {
        "Channel": "Local/s@hotline-xfer-leg/n", "Context": "hotline-xfer", "Exten": "target",
        "Priority": "1", "Timeout": str((answer_s + 10) * 1000), "CallerID": '"12345" <12345>',
        "Async": "true", "ChannelId": transfer.id, "OtherChannelId": transfer.id + "-leg"}
    assert variables == {
        "HOTLINE_CALL_ID": CALL_ID, "HOTLINE_XFER_ID": transfer.id, "HOTLINE_XFER_CONF": CONF,
        "HOTLINE_XFER_MODE": "attended", "HOTLINE_XFER_DIAL": "PJSIP/12366@subcenters",
        "HOTLINE_XFER_BACKUP": "", "HOTLINE_XFER_TIMEOUT": str(answer_s),
        "HOTLINE_XFER_AGENT": AGENT, "HOTLINE_XFER_CALLER": CALLER}
    # nothing touched the other calls
    touched = {f.get("Channel") for _, f, _ in ctl.fake.actions} | {
        f.get("ExtraChannel") for _, f, _ in ctl.fake.actions}
    assert touched - {None} <= {CALLER, AGENT, "Local/s@hotline-xfer-leg/n"}


async def test_start_is_journalled_with_everything_a_restarted_controller_needs(ctl: Controller) -> None:
    ctl.clock.at = T0
    transfer = await ctl.service.start("12366", call_id=CALL_ID, summary="发票遗失补办")
    (requested,) = ctl.steps()
    assert requested == {
        "call_id": CALL_ID, "step": "transfer_requested", "at": T0.isoformat(), "transfer": transfer.id,
        "target": "subcenter-12366", "target_kind": "subcenter", "mode": "attended",
        "dial": "PJSIP/12366@subcenters", "backup_dial": None, "by": "cli", "caller_channel": CALLER,
        "agent": AGENT, "agent_id": "1001", "summary": "发票遗失补办", "description": "税务 tax sub-center",
        "on_failure": "workorder"}
    assert transfer.requested_at == T0 and transfer.history == [(T0, TransferState.DIALLING)]
    assert ctl.service.transfers() == [transfer]


async def test_without_a_summary_the_configured_default_is_used(
        ctl: Controller, config: EngineConfig) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID)
    assert transfer.summary == config.rules.transfers.default_summary
    assert ctl.steps()[0]["summary"] == config.rules.transfers.default_summary


async def test_emergency_target_keeps_the_agent_with_the_caller_and_rings_the_backup_too(
        ctl: Controller, config: EngineConfig) -> None:
    transfer = await ctl.service.start("110", call_id=CALL_ID)
    assert (transfer.mode, transfer.target.kind) == (TransferMode.STAY, TargetKind.EMERGENCY)
    (_, redirect, _), = ctl.fake.named("Redirect")
    assert (redirect["Exten"], redirect["ExtraChannel"], redirect["ExtraExten"]) == (
        "caller", AGENT, "agent-join")
    answer_s = config.rules.timing.emergency_answer_s
    (_, originate, variables), = ctl.fake.named("Originate")
    assert originate["Timeout"] == str((2 * answer_s + 10) * 1000)  # primary, then backup
    assert (variables["HOTLINE_XFER_DIAL"], variables["HOTLINE_XFER_BACKUP"],
            variables["HOTLINE_XFER_MODE"], variables["HOTLINE_XFER_TIMEOUT"]) == (
        "PJSIP/110@emergency", "PJSIP/110@emergency-backup", "stay", str(answer_s))
    agent_vars = ctl.fake.setvars()[AGENT]
    assert agent_vars["HOTLINE_XFER_MODE"] == "stay"
    assert agent_vars["HOTLINE_XFER_WAIT"] == str(2 * answer_s + config.rules.transfers.agent_wait_margin_s)
    assert ctl.steps()[0]["mode"] == "stay"


async def test_stay_mode_asked_for_a_sub_center(ctl: Controller) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID, mode=TransferMode.STAY)
    assert transfer.mode is TransferMode.STAY
    (_, redirect, _), = ctl.fake.named("Redirect")
    assert redirect["ExtraExten"] == "agent-join"
    assert len(ctl.fake.named("Originate")) == 1


async def test_blind_transfer_releases_the_agent_and_lets_the_dialplan_dial(
        ctl: Controller, config: EngineConfig) -> None:
    transfer = await ctl.service.start("utility-power", call_id=CALL_ID, mode=TransferMode.BLIND)
    assert transfer.state is TransferState.DIALLING
    assert ctl.fake.named("Originate") == []
    (_, redirect, _), = ctl.fake.named("Redirect")
    assert (redirect["Channel"], redirect["Exten"], redirect["ExtraChannel"], redirect["ExtraExten"]) == (
        CALLER, "blind", AGENT, "agent-done")
    caller_vars = ctl.fake.setvars()[CALLER]
    assert caller_vars == {
        "HOTLINE_XFER_CONF": CONF, "HOTLINE_XFER_ID": transfer.id, "HOTLINE_XFER_MODE": "blind",
        "HOTLINE_CALL_ID": CALL_ID, "HOTLINE_XFER_AGENT": AGENT,
        "HOTLINE_XFER_DIAL": "PJSIP/95598@subcenters", "HOTLINE_XFER_BACKUP": "",
        "HOTLINE_XFER_TIMEOUT": str(config.rules.timing.subcenter_answer_s),
        # if nobody answers, the same agent's phone rings again
        "HOTLINE_XFER_AGENT_DIAL": "PJSIP/agent-1001",
        "HOTLINE_XFER_AGENT_RING": str(config.rules.acd.ring_timeout_s)}


async def test_line_target_uses_the_number_the_caller_dialled(ctl: Controller) -> None:
    transfer = await ctl.service.start("line", call_id=CALL_ID)
    (_, getvar, _), = ctl.fake.named("Getvar")
    assert getvar == {"Channel": CALLER, "Variable": "HOTLINE_LINE"}
    assert transfer.target.name == "subcenter-12366"


async def test_line_target_on_a_call_to_12345_is_refused_before_anything_moves(ctl: Controller) -> None:
    ctl.fake.variables[(CALLER, "HOTLINE_LINE")] = "12345"
    with pytest.raises(UnknownTarget, match="line 12345 has no sub-center"):
        await ctl.service.start("line", call_id=CALL_ID)
    assert [a[0] for a in ctl.fake.actions] == ["Getvar"]
    assert ctl.steps() == [] and ctl.service.transfers() == []


async def test_unknown_target_moves_nobody(ctl: Controller) -> None:
    with pytest.raises(UnknownTarget):
        await ctl.service.start("subcenter-99999", call_id=CALL_ID)
    assert ctl.fake.named("Setvar") == [] and ctl.fake.named("Redirect") == []


async def test_a_queued_caller_is_not_with_an_agent(ctl: Controller) -> None:
    with pytest.raises(NotWithAgent, match=r"call 1763900020\.12 is not connected to a 12345 agent"):
        await ctl.service.start("12366", call_id="1763900020.12")
    assert ctl.fake.named("Redirect") == []


async def test_a_caller_bridged_with_something_other_than_an_agent(ctl: Controller) -> None:
    ctl.fake.channels = [channel(CALLER, CALL_ID, BRIDGE),
                         channel("PJSIP/fallback-desk-00000001", "1763900000.9", BRIDGE)]
    with pytest.raises(NotWithAgent):
        await ctl.service.start("12366", call_id=CALL_ID)


async def test_unknown_call(ctl: Controller) -> None:
    with pytest.raises(CallNotFound, match=r"no live call 1763999999\.1"):
        await ctl.service.start("12366", call_id="1763999999.1")
    assert [a[0] for a in ctl.fake.actions] == []


async def test_not_connected_to_asterisk(ctl: Controller) -> None:
    ctl.ami = None
    with pytest.raises(TransferError, match="not connected to Asterisk"):
        await ctl.service.start("12366", call_id=CALL_ID)


async def test_a_second_transfer_while_one_is_running_is_refused(ctl: Controller) -> None:
    first = await ctl.service.start("12366", call_id=CALL_ID)
    before = len(ctl.fake.actions)
    with pytest.raises(TransferError, match=f"already has transfer {first.id} \\(dialling\\)"):
        await ctl.service.start("utility-power", call_id=CALL_ID)
    assert len(ctl.fake.actions) == before  # nobody was moved
    assert ctl.step_names() == ["transfer_requested"]


async def test_once_the_caller_is_back_with_the_agent_a_new_transfer_may_start(ctl: Controller) -> None:
    first = await ctl.service.start("12366", call_id=CALL_ID)
    await ctl.events.handle(user_event("Failed", CALL_ID, first.id, Status="NOANSWER"))
    await ctl.events.handle(user_event("Returned", CALL_ID, first.id, To="agent"))
    second = await ctl.service.start("utility-power", call_id=CALL_ID)
    assert second.id != first.id and second.state is TransferState.DIALLING
    assert ctl.service.transfers() == [second, first]


async def test_other_calls_transfer_independently(ctl: Controller) -> None:
    one = await ctl.service.start("12366", call_id=CALL_ID)
    two = await ctl.service.start("12366", call_id="1763900010.9")
    assert one.active and two.active
    assert two.agent_channel == "PJSIP/agent-1002-0000000b"


async def test_an_ami_error_ends_the_transfer_and_is_journalled(ctl: Controller) -> None:
    ctl.fake.fail["Redirect"] = "No such channel"
    with pytest.raises(TransferError, match="could not start: AMI Redirect failed: No such channel"):
        await ctl.service.start("12366", call_id=CALL_ID)
    (transfer,) = ctl.service.transfers()
    assert (transfer.state, transfer.outcome, transfer.active) == (TransferState.ENDED, Outcome.FAILED, False)
    assert ctl.fake.named("Originate") == []  # no target is rung for a caller who was not moved
    assert ctl.step_names() == ["transfer_requested", "transfer_error"]
    error = ctl.steps()[-1]
    assert error["transfer"] == transfer.id and "No such channel" in error["error"]
    # the agent may try again
    ctl.fake.fail.clear()
    assert (await ctl.service.start("12366", call_id=CALL_ID)).state is TransferState.DIALLING


async def test_a_refused_originate_also_ends_the_transfer(ctl: Controller) -> None:
    ctl.fake.fail["Originate"] = "Originate failed"
    with pytest.raises(TransferError, match="AMI Originate failed"):
        await ctl.service.start("12366", call_id=CALL_ID)
    assert ctl.service.transfers()[0].state is TransferState.ENDED
    assert ctl.step_names()[-1] == "transfer_error"


async def test_a_failed_start_is_not_revived_after_a_restart(ctl: Controller) -> None:
    ctl.fake.fail["Setvar"] = "No such channel"
    with pytest.raises(TransferError):
        await ctl.service.start("12366", call_id=CALL_ID)
    with pytest.raises(NoTransferInProgress):
        await ctl.restarted().service.cancel(CALL_ID)


async def test_events_arriving_before_the_start_returns_are_not_undone(ctl: Controller) -> None:
    """A blind transfer to a dead trunk fails at once: the dialplan's events may be handled
    before ``start`` gets Asterisk's Redirect response back."""
    started: list[str] = []

    async def dialplan_runs(action: str, fields: dict[str, str]) -> None:
        if action != "Redirect":
            return
        (transfer,) = ctl.service.transfers()
        started.append(transfer.id)
        for kind, extra in (("Dialling", {"Attempt": "primary", "Dial": "PJSIP/95598@subcenters"}),
                            ("Attempt", {"Attempt": "primary", "Status": "CHANUNAVAIL"}),
                            ("Failed", {"Status": "CHANUNAVAIL"}), ("Returned", {"To": "agent"})):
            await ctl.events.handle(user_event(kind, CALL_ID, transfer.id, **extra))

    ctl.fake.on_action = dialplan_runs
    transfer = await ctl.service.start("utility-power", call_id=CALL_ID, mode=TransferMode.BLIND)
    assert started == [transfer.id]
    assert (transfer.state, transfer.outcome) == (TransferState.RETURNED, Outcome.FAILED)
    assert transfer.workorder_id is not None


# --- start from the agent's phone (feature codes) ---------------------------------------------


async def test_start_by_agent_channel_finds_the_caller(ctl: Controller) -> None:
    transfer = await ctl.service.start("110", agent_channel=AGENT, mode=TransferMode.STAY,
                                       by="feature-code")
    assert (transfer.call_id, transfer.caller_channel, transfer.agent_channel) == (CALL_ID, CALLER, AGENT)
    (_, redirect, _), = ctl.fake.named("Redirect")
    assert redirect["Channel"] == CALLER and redirect["ExtraChannel"] == AGENT
    assert ctl.steps()[0]["by"] == "feature-code"


async def test_start_by_an_agent_channel_that_is_not_up(ctl: Controller) -> None:
    with pytest.raises(CallNotFound, match="agent channel PJSIP/agent-1003-00000001 is not up"):
        await ctl.service.start("110", agent_channel="PJSIP/agent-1003-00000001")


async def test_start_by_an_idle_agent_channel(ctl: Controller) -> None:
    ctl.fake.channels.append(channel("PJSIP/agent-1003-00000001", "1763900030.1", ""))
    with pytest.raises(NotWithAgent, match="is not talking with a caller"):
        await ctl.service.start("110", agent_channel="PJSIP/agent-1003-00000001")


async def test_feature_code_star_91_starts_an_emergency_transfer_from_the_agent_phone(
        ctl: Controller) -> None:
    env = AgiEnvironment({"agi_network_script": "xfer/110/stay", "agi_channel": AGENT,
                          "agi_uniqueid": AGENT_UNIQUEID})
    _running_agi(ctl, AGENT)
    await ctl.codes.handle(cast(AgiSession, _Session(env)))
    assert ctl.fake.actions == []  # the AGI answers first; the transfer moves that very channel
    await ctl.core.settle()
    (transfer,) = ctl.service.transfers()
    assert (transfer.target.name, transfer.mode, transfer.requested_by, transfer.call_id) == (
        "110", TransferMode.STAY, "feature-code", CALL_ID)


async def test_feature_code_refused_is_only_logged(ctl: Controller, caplog: pytest.LogCaptureFixture) -> None:
    ctl.fake.variables.clear()  # a call to 12345 itself: "line" has no sub-center
    await ctl.codes.handle(cast(AgiSession, _Session(AgiEnvironment(
        {"agi_network_script": "xfer/line/attended", "agi_channel": AGENT}))))
    await ctl.core.settle()
    assert ctl.service.transfers() == []
    assert "refused" in caplog.text


@pytest.mark.parametrize(("env", "application", "reason"), [
    ({"agi_channel": AGENT, "agi_uniqueid": "1763900000.99"}, "AGI", "another unique id"),
    ({"agi_channel": AGENT, "agi_uniqueid": AGENT_UNIQUEID}, "AppQueue", "not running AGI"),
    ({"agi_channel": "PJSIP/agent-1001-ffffffff", "agi_uniqueid": AGENT_UNIQUEID}, "AGI",
     "is not up"),
    ({"agi_channel": AGENT}, "AGI", "no channel or unique id"),
    ({"agi_channel": CALLER, "agi_uniqueid": CALL_ID}, "AGI", "not an agent's phone"),
])
async def test_a_forged_feature_code_request_starts_nothing(
        ctl: Controller, caplog: pytest.LogCaptureFixture, env: dict[str, str],
        application: str, reason: str) -> None:
    """The request must name a live roster agent's channel, with its unique id, in AGI."""
    _running_agi(ctl, AGENT, application)
    await ctl.codes.handle(cast(AgiSession, _Session(AgiEnvironment(
        {"agi_network_script": "xfer/110/stay", **env}))))
    await ctl.core.settle()
    assert ctl.service.transfers() == []
    assert [a for a, _f, _v in ctl.fake.actions if a != "CoreShowChannels"] == []
    assert reason in caplog.text


def _running_agi(ctl: Controller, name: str, application: str = "AGI") -> None:
    """The channel ``name`` is inside ``AGI()`` right now (a feature code keyed)."""
    for entry in ctl.fake.channels:
        if entry["Channel"] == name:
            entry["Application"] = application


class _Session:
    def __init__(self, env: AgiEnvironment) -> None:
        self.env = env


# --- cancel --------------------------------------------------------------------------------------


async def test_cancel_while_ringing_brings_the_agent_back_and_drops_the_target(ctl: Controller) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID)
    leg = leg_up(ctl, transfer)
    ctl.fake.actions.clear()
    ctl.clock.advance(4)
    cancelled = await ctl.service.cancel(CALL_ID)
    assert cancelled is transfer
    assert [(a, f) for a, f, _ in ctl.fake.actions] == [
        ("Redirect", {"Channel": AGENT, "Context": "hotline-xfer", "Exten": "agent-rejoin", "Priority": "1"}),
        ("Hangup", {"Channel": leg})]
    assert (transfer.state, transfer.outcome, transfer.active) == (
        TransferState.CANCELLED, Outcome.CANCELLED, False)
    assert ctl.step_names() == ["transfer_requested", "transfer_cancelled"]
    assert ctl.steps()[-1]["transfer"] == transfer.id
    with pytest.raises(NoTransferInProgress):
        await ctl.service.cancel(CALL_ID)


async def test_cancel_in_the_three_way_call_only_drops_the_target(ctl: Controller) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID)
    leg = leg_up(ctl, transfer)
    await ctl.events.handle(user_event("Answered", CALL_ID, transfer.id, channel=leg))
    ctl.fake.actions.clear()
    await ctl.service.cancel(CALL_ID)
    assert [(a, f) for a, f, _ in ctl.fake.actions] == [("Hangup", {"Channel": leg})]
    # the target had answered: that outcome is kept
    assert (transfer.state, transfer.outcome) == (TransferState.CANCELLED, Outcome.ANSWERED)


async def test_cancel_of_an_emergency_transfer_leaves_the_agent_where_it_is(ctl: Controller) -> None:
    transfer = await ctl.service.start("110", call_id=CALL_ID)
    leg = leg_up(ctl, transfer)
    ctl.fake.actions.clear()
    await ctl.service.cancel(CALL_ID)
    assert [(a, f) for a, f, _ in ctl.fake.actions] == [("Hangup", {"Channel": leg})]


async def test_cancel_when_the_target_leg_is_already_gone(ctl: Controller) -> None:
    await ctl.service.start("12366", call_id=CALL_ID)
    ctl.fake.actions.clear()
    await ctl.service.cancel(CALL_ID)
    assert [a for a, _, _ in ctl.fake.actions] == ["Redirect"]


async def test_cancel_without_a_transfer(ctl: Controller) -> None:
    with pytest.raises(NoTransferInProgress, match=f"call {CALL_ID} has no transfer in progress"):
        await ctl.service.cancel(CALL_ID)
    assert ctl.fake.actions == []


async def test_cancel_after_the_caller_was_returned_is_refused(ctl: Controller) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID)
    await ctl.events.handle(user_event("Returned", CALL_ID, transfer.id, To="agent"))
    with pytest.raises(NoTransferInProgress):
        await ctl.service.cancel(CALL_ID)


async def test_cancel_after_a_controller_restart_uses_the_journal(ctl: Controller) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID)
    leg = leg_up(ctl, transfer)
    await ctl.events.handle(user_event("Answered", CALL_ID, transfer.id, channel=leg))
    later = ctl.restarted()
    later.fake.actions.clear()
    cancelled = await later.service.cancel(CALL_ID)
    assert cancelled.id == transfer.id and cancelled.state is TransferState.CANCELLED
    assert [(a, f) for a, f, _ in later.fake.actions] == [("Hangup", {"Channel": leg})]


async def test_a_cancelled_transfer_stays_cancelled_after_a_restart(ctl: Controller) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID)
    await ctl.events.handle(user_event("Answered", CALL_ID, transfer.id))
    await ctl.service.cancel(CALL_ID)
    later = ctl.restarted()
    later.fake.actions.clear()
    # the agent is alone with the caller again: "leave" must not hang the agent up
    with pytest.raises(NoTransferInProgress):
        await later.service.leave(CALL_ID)
    assert later.fake.actions == []


# --- leave ---------------------------------------------------------------------------------------


async def test_leave_hangs_up_the_agent_once_the_target_answered(ctl: Controller) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID)
    await ctl.events.handle(user_event("Answered", CALL_ID, transfer.id))
    ctl.fake.actions.clear()
    left = await ctl.service.leave(CALL_ID)
    assert [(a, f) for a, f, _ in ctl.fake.actions] == [("Hangup", {"Channel": AGENT})]
    # the agent's ConfbridgeLeave (not the command) marks the hand-over
    assert left.state is TransferState.THREE_WAY


async def test_leave_before_the_target_answered_is_refused(ctl: Controller) -> None:
    await ctl.service.start("12366", call_id=CALL_ID)
    ctl.fake.actions.clear()
    with pytest.raises(TransferError, match="is dialling: the agent can leave only once the target has"):
        await ctl.service.leave(CALL_ID)
    assert ctl.fake.actions == []


async def test_leave_without_a_transfer(ctl: Controller) -> None:
    with pytest.raises(NoTransferInProgress):
        await ctl.service.leave(CALL_ID)


async def test_leave_after_a_controller_restart(ctl: Controller) -> None:
    transfer = await ctl.service.start("12366", call_id=CALL_ID)
    await ctl.events.handle(user_event("Answered", CALL_ID, transfer.id))
    later = ctl.restarted()
    later.fake.actions.clear()
    await later.service.leave(CALL_ID)
    assert [(a, f) for a, f, _ in later.fake.actions] == [("Hangup", {"Channel": AGENT})]


# --- the control API ---------------------------------------------------------------------------


async def test_control_api_start_list_and_errors(ctl: Controller) -> None:
    api = TransferApi(ctl.service)
    started = await api.handle("transfer.start", {"call_id": CALL_ID, "target": "12366",
                                                  "mode": "attended", "summary": "发票遗失补办"})
    assert started["ok"] is True
    assert (started["result"]["target"], started["result"]["state"], started["result"]["requested_by"]) == (
        "subcenter-12366", "dialling", "cli")
    listed = await api.handle("transfer.list", {})
    assert [t["id"] for t in listed["result"]["items"]] == [started["result"]["id"]]
    assert (listed["result"]["total"], listed["result"]["next"]) == (1, None)
    again = await api.handle("transfer.start", {"call_id": CALL_ID, "target": "12366"})
    assert again["ok"] is False and "already has transfer" in again["error"]
    assert (await api.handle("transfer.start", {"call_id": CALL_ID, "target": "12366", "mode": "sideways"})
            )["error"].startswith("bad arguments for transfer.start")
    assert (await api.handle("transfer.start", {"target": "12366"}))["error"].startswith("bad arguments")
    assert (await api.handle("transfer.reboot", {}))["error"] == "unknown operation 'transfer.reboot'"
    cancelled = await api.handle("transfer.cancel", {"call_id": CALL_ID})
    assert cancelled["ok"] is True and cancelled["result"]["state"] == "cancelled"
    left = await api.handle("transfer.leave", {"call_id": CALL_ID})
    assert left == {"ok": False, "error": f"call {CALL_ID} has no transfer in progress"}
