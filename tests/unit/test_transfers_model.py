"""The transfer state machine, DIALSTATUS outcomes and the JSON view the CLI prints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ivr.transfers.model import (
    ACTIVE_STATES,
    TRANSITIONS,
    IllegalTransferTransition,
    Outcome,
    ResolvedTarget,
    TargetKind,
    Transfer,
    TransferError,
    TransferMode,
    TransferState,
    outcome_of_dialstatus,
)

T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
S = TransferState
TARGET = ResolvedTarget(name="subcenter-12366", kind=TargetKind.SUBCENTER,
                        dial="PJSIP/12366@subcenters", answer_s=20, description="税务 tax sub-center")

# What a transfer may become from each state: the table the controller and the dialplan follow.
LEGAL = {
    S.REQUESTED: {S.DIALLING, S.RETURNED, S.CANCELLED, S.ENDED},
    S.DIALLING: {S.THREE_WAY, S.HANDED_OVER, S.RETURNED, S.CANCELLED, S.ENDED},
    S.THREE_WAY: {S.HANDED_OVER, S.CANCELLED, S.RETURNED, S.ENDED},
    S.HANDED_OVER: {S.ENDED},
    S.RETURNED: {S.ENDED},
    S.CANCELLED: {S.ENDED},
    S.ENDED: set(),
}
ALL_MOVES = [(old, new) for old in TransferState for new in TransferState if old is not new]


def transfer(state: TransferState = S.REQUESTED, **extra: object) -> Transfer:
    fields: dict[str, object] = {
        "id": "xfer-0123456789ab", "call_id": "1763900000.7", "target": TARGET,
        "mode": TransferMode.ATTENDED, "requested_at": T0, "requested_by": "cli",
        "caller_channel": "PJSIP/trunk-00000007", "agent_channel": "PJSIP/agent-1001-0000000a",
        "summary": "发票遗失补办", "state": state}
    fields.update(extra)
    return Transfer(**fields)  # type: ignore[arg-type]


def test_the_table_is_the_documented_one() -> None:
    assert {state: set(targets) for state, targets in TRANSITIONS.items()} == LEGAL
    assert set(TRANSITIONS) == set(TransferState)


@pytest.mark.parametrize(("old", "new"), [(o, n) for o, n in ALL_MOVES if n in LEGAL[o]],
                         ids=lambda s: str(s))
def test_every_legal_move_works_and_is_recorded(old: TransferState, new: TransferState) -> None:
    moving = transfer(old)
    at = T0 + timedelta(seconds=3)
    moving.move(new, at)
    assert moving.state is new
    assert moving.history == [(at, new)]


@pytest.mark.parametrize(("old", "new"), [(o, n) for o, n in ALL_MOVES if n not in LEGAL[o]],
                         ids=lambda s: str(s))
def test_every_illegal_move_raises_and_changes_nothing(old: TransferState, new: TransferState) -> None:
    moving = transfer(old)
    with pytest.raises(IllegalTransferTransition, match=f"{old.value} -> {new.value}"):
        moving.move(new, T0)
    assert moving.state is old
    assert moving.history == []


def test_illegal_transition_is_a_transfer_error_the_api_reports() -> None:
    assert issubclass(IllegalTransferTransition, TransferError)


@pytest.mark.parametrize("new", list(TransferState), ids=str)
def test_ended_is_terminal(new: TransferState) -> None:
    ended = transfer(S.ENDED)
    if new is S.ENDED:
        ended.move(new, T0)  # staying put is not a move
        assert ended.history == []
    else:
        with pytest.raises(IllegalTransferTransition):
            ended.move(new, T0)
    assert ended.state is S.ENDED


def test_moving_to_the_same_state_is_a_no_op() -> None:
    dialling = transfer(S.DIALLING)
    dialling.move(S.DIALLING, T0)
    assert dialling.history == []


def test_a_whole_attended_transfer_keeps_its_history_in_order() -> None:
    moving = transfer()
    path = [S.DIALLING, S.THREE_WAY, S.HANDED_OVER, S.ENDED]
    for i, state in enumerate(path):
        moving.move(state, T0 + timedelta(seconds=i))
    assert [s for _, s in moving.history] == path
    assert [at for at, _ in moving.history] == [T0 + timedelta(seconds=i) for i in range(4)]


@pytest.mark.parametrize("state", list(TransferState), ids=str)
def test_active_only_while_requested_dialling_or_three_way(state: TransferState) -> None:
    assert transfer(state).active is (state in {S.REQUESTED, S.DIALLING, S.THREE_WAY})
    assert (state in ACTIVE_STATES) is transfer(state).active


@pytest.mark.parametrize(("dialstatus", "outcome"), [
    ("ANSWER", Outcome.ANSWERED),
    ("NOANSWER", Outcome.NO_ANSWER),
    ("BUSY", Outcome.BUSY),
    ("CANCEL", Outcome.CANCELLED),
    ("noanswer", Outcome.NO_ANSWER),  # case does not matter
    ("Busy", Outcome.BUSY),
    ("CHANUNAVAIL", Outcome.FAILED),
    ("CONGESTION", Outcome.FAILED),
    ("DONTCALL", Outcome.FAILED),
    ("INVALIDARGS", Outcome.FAILED),
    ("", Outcome.FAILED),  # ${DIALSTATUS} empty: Dial never ran
])
def test_outcome_of_dialstatus(dialstatus: str, outcome: Outcome) -> None:
    assert outcome_of_dialstatus(dialstatus) is outcome


def test_to_json_of_a_fresh_transfer() -> None:
    assert transfer().to_json() == {
        "id": "xfer-0123456789ab", "call_id": "1763900000.7", "target": "subcenter-12366",
        "target_kind": "subcenter", "mode": "attended", "state": "requested", "outcome": None,
        "workorder": None, "requested_at": "2026-11-23T01:30:00+00:00", "requested_by": "cli",
        "agent_channel": "PJSIP/agent-1001-0000000a", "history": []}


def test_to_json_after_a_failed_transfer_names_outcome_work_order_and_history() -> None:
    failed = transfer(mode=TransferMode.BLIND, agent_channel=None, requested_by="feature-code")
    failed.move(S.DIALLING, T0 + timedelta(seconds=1))
    failed.outcome = Outcome.NO_ANSWER
    failed.workorder_id = "WO-20261123-0001"
    failed.move(S.RETURNED, T0 + timedelta(seconds=21))
    view = failed.to_json()
    assert (view["mode"], view["state"], view["outcome"], view["workorder"]) == (
        "blind", "returned", "no_answer", "WO-20261123-0001")
    assert view["agent_channel"] is None and view["requested_by"] == "feature-code"
    assert view["history"] == [("2026-11-23T01:30:01+00:00", "dialling"),
                               ("2026-11-23T01:30:21+00:00", "returned")]
    # what the control API sends over the socket
    assert json.loads(json.dumps(view))["history"][1] == ["2026-11-23T01:30:21+00:00", "returned"]
