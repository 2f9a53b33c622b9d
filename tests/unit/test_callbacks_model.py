"""The callback entry's state machine and how an attempt's last stage becomes an outcome."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.callbacks.dialler import attempt_key, entry_id_of_key, outcome_of_stage, started_of_key
from ivr.callbacks.model import (
    TRANSITIONS,
    CallbackState,
    Entry,
    IllegalCallbackTransition,
    Outcome,
    Reason,
    after_attempt,
)
from ivr.callbacks.service import dialable

S = CallbackState
AT = datetime(2025, 3, 3, 4, 0, tzinfo=UTC)


def make(state: CallbackState = S.PENDING) -> Entry:
    return Entry(id=7, call_id="c7", number="13800138000", skill="general",
                 reason=Reason.ABANDONED, requested_at=AT, state=state)


def test_closed_states_are_final() -> None:
    for state in (S.CONNECTED, S.FAILED, S.CANCELLED, S.EXPIRED):
        assert TRANSITIONS[state] == frozenset()


def test_a_dialling_entry_cannot_be_cancelled() -> None:
    with pytest.raises(IllegalCallbackTransition, match="callback 7 is dialling"):
        make(S.DIALLING).moved(S.CANCELLED)


def test_pending_to_dialling_to_pending() -> None:
    dialling = make().moved(S.DIALLING, agent="2001")
    assert dialling.state is S.DIALLING and dialling.agent == "2001"
    assert dialling.moved(S.PENDING).state is S.PENDING


def test_after_an_attempt() -> None:
    assert after_attempt(1, Outcome.CONNECTED, 3) is S.CONNECTED
    assert after_attempt(1, Outcome.NO_ANSWER, 3) is S.PENDING
    assert after_attempt(3, Outcome.BUSY, 3) is S.FAILED
    assert after_attempt(3, Outcome.AGENT_NO_ANSWER, 3) is S.PENDING  # not the caller's attempt


@pytest.mark.parametrize(("stage", "outcome"), [
    ("", Outcome.AGENT_NO_ANSWER), ("agent", Outcome.AGENT_NO_ANSWER),
    ("agent:NOANSWER", Outcome.AGENT_NO_ANSWER), ("caller", Outcome.NO_ANSWER),
    ("caller:NOANSWER", Outcome.NO_ANSWER), ("caller:BUSY", Outcome.BUSY),
    ("caller:CHANUNAVAIL", Outcome.BUSY), ("connected", Outcome.CONNECTED)])
def test_outcome_of_the_last_stage(stage: str, outcome: Outcome) -> None:
    assert outcome_of_stage(stage) is outcome


def test_attempt_keys() -> None:
    key = attempt_key(make(), AT)
    assert entry_id_of_key(key) == 7
    assert started_of_key(key) == AT
    assert entry_id_of_key("hlx-123") is None


def test_masked_everywhere_but_the_number() -> None:
    row = make().to_json()
    assert "13800138000" not in str(row)
    assert row["caller"] == "138******00"


@pytest.mark.parametrize(("raw", "number"), [
    ("13800138000", "13800138000"), ("+8613800138000", "8613800138000"),
    ("anonymous", None), ("", None), ("1380013800<0>", None)])
def test_only_numbers_are_called_back(raw: str, number: str | None) -> None:
    assert dialable(raw) == number
