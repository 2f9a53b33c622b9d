"""The ``listening:`` section of routing_rules.yaml: strict schema, model path, pipeline knobs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ivr.config.engine import load_engine_config
from ivr.config.errors import ConfigError
from ivr.speech.settings import (
    MODEL_PATH_ENV,
    EmergencyAction,
    GrammarMode,
    ListeningRules,
    ListenOn,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG_FILES = ("merger_catalogue.yaml", "routing_rules.yaml", "agents.yaml")


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """A writable copy of the shipped configuration."""
    target = tmp_path / "config"
    target.mkdir()
    for name in CONFIG_FILES:
        shutil.copy(REPO / name, target / name)
    return target


def problems_after(config: Path, *edits: tuple[str, str]) -> list[str]:
    path = config / "routing_rules.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_engine_config(config)
    return [str(p) for p in info.value.problems]


def listening(**fields: Any) -> ListeningRules:
    return ListeningRules.model_validate(fields)


# --- the shipped file and the defaults ---------------------------------------------------------

def test_shipped_rules_listen_on_12345_and_unknown_numbers(shipped: Path) -> None:
    rules = load_engine_config(shipped).rules.listening
    assert rules.enabled
    assert rules.lines == [ListenOn.MAIN, ListenOn.UNKNOWN]
    assert rules.grammar is GrammarMode.FREE
    assert rules.emergency_action is EmergencyAction.DIAL
    assert (rules.audiosocket.host, rules.audiosocket.port) == ("127.0.0.1", 9092)
    assert rules.prompt == "listen"
    assert rules.vad.no_speech_timeout_ms == 6000  # the shipped file overrides the default 8000


def test_a_file_without_the_section_gets_the_defaults() -> None:
    rules = ListeningRules()
    assert rules.enabled and rules.lines == [ListenOn.MAIN, ListenOn.UNKNOWN]
    assert (rules.budget_ms, rules.decision_reserve_ms, rules.early_emergency_hold_ms) == (
        15_000, 1_500, 400)
    assert rules.listen_s == 18  # the AudioSocket leg may outlive the budget by 3 s


def test_pipeline_carries_every_knob() -> None:
    rules = listening(budget_ms=12_000, decision_reserve_ms=2_000, preroll_ms=600,
                      early_emergency=False, early_emergency_hold_ms=900,
                      vad={"aggressiveness": 3, "start_ms": 100, "start_window_ms": 300,
                           "end_silence_ms": 900, "max_utterance_ms": 7000,
                           "no_speech_timeout_ms": 4000, "min_level_dbfs": None})
    config = rules.pipeline()
    assert (config.budget_ms, config.decision_reserve_ms, config.preroll_ms) == (12_000, 2_000, 600)
    assert (config.early_emergency, config.early_emergency_hold_ms) == (False, 900)
    vad = config.vad
    assert (vad.aggressiveness, vad.start_ms, vad.start_window_ms) == (3, 100, 300)
    assert (vad.end_silence_ms, vad.max_utterance_ms, vad.no_speech_timeout_ms) == (900, 7000, 4000)
    assert vad.min_level_dbfs is None


@pytest.mark.parametrize(("budget_ms", "listen_s"), [(3000, 6), (15_000, 18), (15_999, 18)])
def test_listen_s_is_whole_seconds_of_budget_plus_margin(budget_ms: int, listen_s: int) -> None:
    assert listening(budget_ms=budget_ms, decision_reserve_ms=500).listen_s == listen_s


# --- strictness ----------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "message"), [
    ({"budget_ms": 8000, "decision_reserve_ms": 8000}, "decision_reserve_ms must be less than budget_ms"),
    ({"preroll_ms": 200}, "preroll_ms must cover vad.start_window_ms"),
    ({"recognizer_rate": 12_000}, "recognizer_rate must be a multiple of 8000"),
    ({"vad": {"start_ms": 300, "start_window_ms": 240}}, "start_ms must not exceed start_window_ms"),
    ({"budget_ms": 2000}, "greater than or equal to 3000"),
    ({"lines": ["main", "everything"]}, "'main', 'unknown' or 'diverted_emergency'"),
    ({"emergency_action": "transfer"}, "'dial' or 'queue'"),
    ({"grammar": "ngram"}, "'free' or 'keywords'"),
    ({"audiosocket": {"port": 0}}, "greater than or equal to 1"),
    ({"vad": {"aggressiveness": 4}}, "less than or equal to 3"),
    ({"early_emergency_hold_ms": -1}, "greater than or equal to 0"),
])
def test_inconsistent_or_out_of_range_values_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        listening(**fields)


@pytest.mark.parametrize("fields", [
    {"model": "/models/cn"},
    {"vad": {"hangover_ms": 500}},
    {"audiosocket": {"address": "0.0.0.0"}},
])
def test_unknown_keys_are_refused_at_every_level(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        listening(**fields)


def test_the_check_names_file_line_and_key(shipped: Path) -> None:
    found = problems_after(shipped, ("  workers: 2 ", "  worker: 2 "))
    assert any(p.startswith(f"{shipped / 'routing_rules.yaml'}:") and
               p.endswith("listening.worker: unknown key") for p in found), found


def test_the_check_reports_a_budget_without_room_to_decide(shipped: Path) -> None:
    found = problems_after(shipped, ("decision_reserve_ms: 1500 ", "decision_reserve_ms: 9000 "),
                           ("budget_ms: 15000 ", "budget_ms: 9000 "))
    assert any(": listening: decision_reserve_ms must be less than budget_ms" in p
               for p in found), found


# --- the model path ------------------------------------------------------------------------

def test_model_path_relative_to_the_config_directory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    rules = listening(model_path="models/cn")
    assert rules.resolved_model_path(tmp_path) == tmp_path / "models" / "cn"


def test_model_path_tilde_is_the_home_directory(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    resolved = listening(model_path="~/vosk/cn").resolved_model_path(Path("/etc/hotline"))
    assert resolved == tmp_path / "home" / "vosk" / "cn"


def test_model_path_absolute_ignores_the_config_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    resolved = listening(model_path="/srv/models/cn").resolved_model_path(Path("/etc/hotline"))
    assert resolved == Path("/srv/models/cn")


def test_the_environment_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_PATH_ENV, "/opt/vosk/cn")
    assert listening(model_path="models/cn").resolved_model_path(tmp_path) == Path("/opt/vosk/cn")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(MODEL_PATH_ENV, "~/env-model")
    assert ListeningRules().resolved_model_path(tmp_path) == tmp_path / "home" / "env-model"
    monkeypatch.setenv(MODEL_PATH_ENV, "relative/model")
    assert ListeningRules().resolved_model_path(tmp_path) == tmp_path / "relative" / "model"


def test_an_empty_environment_variable_falls_back_to_the_file(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_PATH_ENV, "")
    assert listening(model_path="models/cn").resolved_model_path(tmp_path) == tmp_path / "models" / "cn"
