"""Call recording (issue 15): the plan in the decision, the call's recording steps, the
retention sweep, the disk guard, the append-only audit, and the CLI."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import sqlite3
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ivr.config.engine import EngineConfig, load_engine_config
from ivr.core.decision_vars import DECISION_FIELDS, packed, unescape_fields
from ivr.core.events import CallEvent, Event, RecordingDiskLow, call_event
from ivr.quality.recording import (
    RecordingService,
    audio_seconds,
    file_base,
    party_name,
)
from ivr.quality.settings import RecordingRules
from ivr.quality.store import AuditEntry, QualityStore
from ivr.routing.decision import CallFacts, decide

REPO = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
CALL = "1795917600.7"  # 2026-11-29 10:00 Asia/Shanghai


class Steps:
    def __init__(self) -> None:
        self.steps: list[tuple[str, str, dict[str, Any]]] = []

    def append(self, call_id: str, step: str, at: datetime, **data: Any) -> None:
        self.steps.append((call_id, step, data))

    def named(self, step: str) -> list[dict[str, Any]]:
        return [d for _, s, d in self.steps if s == step]


class Clock:
    def now(self) -> datetime:
        return AT


@functools.cache
def shipped() -> EngineConfig:
    return load_engine_config(REPO)


def config_with(store: Path, **recording: Any) -> EngineConfig:
    config = shipped()
    rules = RecordingRules.model_validate(
        {**config.rules.recording.model_dump(), "store": str(store), **recording})
    return dataclasses.replace(config, rules=config.rules.model_copy(update={"recording": rules}))


def make(tmp_path: Path, **recording: Any) -> tuple[RecordingService, Steps, QualityStore,
                                                     list[Event], EngineConfig]:
    config = config_with(tmp_path / "store", **recording)
    steps, events = Steps(), []  # type: ignore[var-annotated]
    store = QualityStore(tmp_path / "run" / "quality.db")
    service = RecordingService(lambda: config, Clock(), steps, store,  # type: ignore[arg-type]
                               lambda p: f"hotline/generated/{p}", events.append)
    return service, steps, store, events, config


def plan(service: RecordingService, config: EngineConfig, number: str = "12345",
         call_id: str = CALL) -> dict[str, str]:
    facts = CallFacts(number=number, at=AT, caller="13800138000")
    added = service.plan(decide(facts, config), facts, call_id)
    assert not added.step  # recording says nothing in the decided step
    return dict(added.variables)


def test_the_shipped_configuration_records_to_a_store_outside_the_prompts() -> None:
    rules = load_engine_config(REPO).rules.recording
    assert rules.enabled and rules.store.startswith("/") and "recordings/" not in rules.store
    assert rules.format.value == "gsm" and rules.retention.conversations > 0


@pytest.mark.parametrize("store", ["relative/dir", "/a/../b", "/x/recordings/generated",
                                   "/usr/share/asterisk/sounds/x", "/a b", "/a,b"])
def test_the_store_must_be_a_safe_absolute_path(store: str) -> None:
    with pytest.raises(ValidationError):
        RecordingRules(store=store)


def test_unknown_keys_and_formats_are_refused() -> None:
    with pytest.raises(ValidationError):
        RecordingRules.model_validate({"formt": "wav"})
    with pytest.raises(ValidationError):
        RecordingRules.model_validate({"format": "mp3"})


def test_a_call_is_planned_with_its_file_named_by_call_id(tmp_path: Path) -> None:
    service, steps, _, _, config = make(tmp_path)
    variables = plan(service, config)
    assert variables["HOTLINE_REC"] == "1"
    assert variables["HOTLINE_REC_FILE"] == f"{tmp_path}/store/20261129/{CALL}"
    assert variables["HOTLINE_REC_FORMAT"] == "gsm" and variables["HOTLINE_REC_PROMPT"] == ""
    # the fields travel packed, at the end of the decision
    assert DECISION_FIELDS[-4:] == ("HOTLINE_REC", "HOTLINE_REC_FILE", "HOTLINE_REC_FORMAT",
                                    "HOTLINE_REC_PROMPT")
    fields = unescape_fields(packed({**variables, "HOTLINE_TARGET_KIND": "queue"})
                             ["HOTLINE_DECISION"])
    assert fields[-3] == variables["HOTLINE_REC_FILE"]
    assert steps.steps == []


def test_disclosure_prompt_plays_only_in_its_regions(tmp_path: Path) -> None:
    service, _, _, _, config = make(tmp_path, disclosure={"regions": ["sichuan"],
                                                          "prompt": "recording-notice"})
    assert plan(service, config)["HOTLINE_REC_PROMPT"] == "hotline/generated/recording-notice"
    service, _, _, _, config = make(tmp_path, disclosure={"regions": ["fujian"]})
    assert plan(service, config)["HOTLINE_REC_PROMPT"] == ""


@pytest.mark.parametrize(("recording", "reason"), [
    ({"exclude": {"lines": ["12345"]}}, "excluded_line"),
    ({"exclude": {"skills": ["general"]}}, "excluded_skill"),
])
def test_excluded_calls_are_not_recorded(tmp_path: Path, recording: dict[str, Any],
                                         reason: str) -> None:
    service, steps, _, _, config = make(tmp_path, **recording)
    assert plan(service, config)["HOTLINE_REC"] == "0"
    assert steps.named("recording_skipped") == [{"reason": reason}]


def test_low_disk_stops_recording_new_calls_and_warns_once(tmp_path: Path) -> None:
    service, steps, _, events, config = make(tmp_path, min_free_mb=100_000_000)
    service.check_disk()
    service.check_disk()
    assert service.disk.low
    assert [type(e) for e in events] == [RecordingDiskLow]
    assert plan(service, config)["HOTLINE_REC"] == "0"
    assert steps.named("recording_skipped") == [{"reason": "low_disk"}]


def step(name: str, **data: Any) -> CallEvent:
    return call_event(name, CALL, AT, data)


def test_answer_then_hangup_describes_the_file(tmp_path: Path) -> None:
    service, steps, store, _, config = make(tmp_path)
    base = plan(service, config)["HOTLINE_REC_FILE"]
    spawned: list[Any] = []
    service.on_step(step("dial_result", status="ANSWER", dest="AudioSocket/127.0.0.1:9092-x"),
                    lambda c, n: spawned.append(c))
    assert steps.named("recording_started") == []  # the listening leg is no person
    service.on_step(step("answered", agent="1001", interface="PJSIP/agent-1001"),
                    lambda c, n: spawned.append(c))
    service.on_step(step("transfer_answered", target="subcenter-12366"),
                    lambda c, n: spawned.append(c))
    started = steps.named("recording_started")
    assert started == [{"path": f"{base}.gsm", "format": "gsm",
                        "parties": ["caller:138******00", "agent:1001"]}]
    path = Path(f"{base}.gsm")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0" * 1650 * 4)  # 4 s of GSM
    os.chmod(path, 0o644)
    service.on_step(step("hangup", cause="16"), lambda c, n: spawned.append(c))
    assert len(spawned) == 1
    asyncio.run(spawned[0])
    (done,) = steps.named("recording")
    assert done["duration_s"] == 4.0 and done["size_bytes"] == 6600 and done["kind"] == "conversation"
    assert done["parties"] == ["caller:138******00", "agent:1001", "transfer:subcenter-12366"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (row,) = store.recordings(call_id=CALL)
    assert row.agent == "1001" and row.caller_masked == "138******00" and row.line == "12345"
    assert store.recordings(agent="1001") and not store.recordings(agent="1002")


def test_an_unanswered_call_leaves_no_recording(tmp_path: Path) -> None:
    service, steps, store, _, config = make(tmp_path)
    base = plan(service, config)["HOTLINE_REC_FILE"]
    path = Path(f"{base}.gsm")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    spawned: list[Any] = []
    service.on_step(step("hangup"), lambda c, n: spawned.append(c))
    asyncio.run(spawned[0])
    assert not path.exists() and steps.named("recording") == [] and store.recordings() == []


def test_retention_deletes_expired_files_per_kind_and_audits_them(tmp_path: Path) -> None:
    service, steps, store, _, _ = make(tmp_path)
    day = tmp_path / "store" / "20250101"
    day.mkdir(parents=True)
    now = time.time()
    files = {name: day / name for name in ("1.1.gsm", "1.1-listen.gsm", "2.2.gsm")}
    for path in files.values():
        path.write_bytes(b"x")
    os.utime(files["1.1.gsm"], (now - 200 * 86400,) * 2)  # > 180 days: goes
    os.utime(files["1.1-listen.gsm"], (now - 40 * 86400,) * 2)  # > 30 days (listening): goes
    os.utime(files["2.2.gsm"], (now - 40 * 86400,) * 2)  # conversation, 40 days: stays
    entries = service.sweep(now)
    assert sorted(e.subject for e in entries) == sorted(
        [str(files["1.1.gsm"]), str(files["1.1-listen.gsm"])])
    assert files["2.2.gsm"].exists() and not files["1.1.gsm"].exists()
    assert {d["kind"] for d in steps.named("recording_deleted")} == {"conversation", "listening"}
    assert [e.action for e in store.audit_entries()] == ["retention_delete"] * 2
    assert store.recordings(deleted=True)[0].deleted_reason == "retention"
    # a recent day is not even listed
    assert service.sweep(now) == []


def test_the_audit_trail_is_append_only(tmp_path: Path) -> None:
    store = QualityStore(tmp_path / "quality.db")
    store.audit(AuditEntry(at=AT.isoformat(), actor="qa", action="export", call_id=CALL))
    assert stat.S_IMODE((tmp_path / "quality.db").stat().st_mode) == 0o600
    conn = sqlite3.connect(tmp_path / "quality.db")
    with pytest.raises(sqlite3.DatabaseError, match="never edited"):
        conn.execute("UPDATE audit SET actor = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        conn.execute("DELETE FROM audit")
    conn.close()
    assert [e.actor for e in store.audit_entries()] == ["qa"]


def test_helpers() -> None:
    assert audio_seconds(16044, "wav") == 1.0 and audio_seconds(3300, "gsm") == 2.0
    assert party_name("PJSIP/agent-1001-0000002a") == "PJSIP/agent-1001"
    assert file_base(RecordingRules(store="/r"), "odd id/1") == "/r/undated/odd_id_1"


def test_cli_lists_exports_and_audits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from ivr.cli.main import main

    run = tmp_path / "run"
    monkeypatch.setenv("HOTLINE_RUN_DIR", str(run))
    service, _, _, _, config = make(tmp_path)
    base = plan(service, config)["HOTLINE_REC_FILE"]
    service.on_step(step("answered", agent="1001"), lambda c, n: None)
    Path(base).parent.mkdir(parents=True)
    Path(f"{base}.gsm").write_bytes(b"\1" * 3300)
    spawned: list[Any] = []
    service.on_step(step("hangup"), lambda c, n: spawned.append(c))
    asyncio.run(spawned[0])
    assert main(["recordings", "list", "--agent", "1001", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["call_id"] for r in listed] == [CALL]
    out_dir = tmp_path / "out"
    assert main(["recordings", "export", CALL, str(out_dir), "--by", "qa-7"]) == 0
    capsys.readouterr()
    assert (out_dir / f"{CALL}.gsm").read_bytes() == b"\1" * 3300
    sidecar = json.loads((out_dir / f"{CALL}.json").read_text(encoding="utf-8"))
    assert sidecar["exported_by"] == "qa-7" and sidecar["recordings"][0]["caller_masked"] == "138******00"
    assert main(["recordings", "export", "no.such", str(out_dir)]) == 1
    assert main(["audit", "--json"]) == 0
    audit = json.loads(capsys.readouterr().out)
    assert [(a["actor"], a["action"], a["call_id"]) for a in audit] == [("qa-7", "export", CALL)]


def test_the_queue_dial_to_an_agent_phone_names_the_agent(tmp_path: Path) -> None:
    service, steps, _, _, config = make(tmp_path)
    plan(service, config)
    service.on_step(step("dial_result", status="ANSWER", dest="PJSIP/agent-1001-0000002a"),
                    lambda c, n: None)
    service.on_step(step("answered", agent="1001", interface="PJSIP/agent-1001"),
                    lambda c, n: None)
    (started,) = steps.named("recording_started")
    assert started["parties"] == ["caller:138******00", "agent:1001"]


def test_the_recording_plan_travels_packed_and_does_not_mark_the_call_as_listening(
        tmp_path: Path) -> None:
    from ivr.agi.codec import AgiEnvironment
    from ivr.calls.feature import RouteExtras
    from ivr.calls.service import RoutingService

    service, steps, _, _, config = make(tmp_path)
    extras = RouteExtras()
    extras.add("recording", service.plan)
    routing = RoutingService(lambda: config, Clock(), steps,  # type: ignore[arg-type]
                             lambda p: f"hotline/generated/{p}", extras=extras)

    class Session:
        env = AgiEnvironment({"agi_network_script": "route", "agi_uniqueid": CALL,
                              "agi_extension": "12345", "agi_callerid": "13800138000"})
        sent: dict[str, str] = {}

        async def set_variables(self, variables: dict[str, str]) -> None:
            self.sent.update(variables)

    session = Session()
    asyncio.run(routing.handle(session))  # type: ignore[arg-type]
    fields = dict(zip(DECISION_FIELDS, unescape_fields(session.sent["HOTLINE_DECISION"]),
                      strict=True))
    assert fields["HOTLINE_REC"] == "1" and fields["HOTLINE_REC_FORMAT"] == "gsm"
    assert fields["HOTLINE_REC_FILE"].endswith(f"/{CALL}")
    assert list(session.sent)[-1] == "HOTLINE_TARGET_KIND"
    (decided,) = steps.named("decided")
    assert not decided.get("listening")


def test_an_answered_call_without_audio_leaves_no_file_but_says_so(tmp_path: Path) -> None:
    service, steps, store, _, config = make(tmp_path)
    base = plan(service, config)["HOTLINE_REC_FILE"]
    service.on_step(step("answered", agent="1001"), lambda c, n: None)
    path = Path(f"{base}.gsm")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    spawned: list[Any] = []
    service.on_step(step("hangup"), lambda c, n: spawned.append(c))
    asyncio.run(spawned[0])
    assert not path.exists() and store.recordings() == []
    assert steps.named("recording_empty") == [{"kind": "conversation",
                                               "parties": ["caller:138******00", "agent:1001"]}]


def test_only_recorded_calls_and_calls_from_before_a_restart_are_looked_for_on_disk(
        tmp_path: Path) -> None:
    service, _, _, _, config = make(tmp_path)
    spawned: list[str] = []

    def spawn(coro: Any, name: str) -> None:
        coro.close()
        spawned.append(name)

    service.disk.low = True  # this call is decided here and not recorded
    plan(service, config, call_id="1.1")
    service.on_step(dataclasses.replace(step("hangup"), call_id="1.1"), spawn)
    assert spawned == []  # no file to look for, nothing on the loop
    service.disk.low = False
    plan(service, config, call_id="1.2")  # recorded
    service.on_step(dataclasses.replace(step("hangup"), call_id="1.2"), spawn)
    # decided by an earlier controller: its file may exist, looked for off the loop
    service.on_step(dataclasses.replace(step("hangup"), call_id="0.9"), spawn)
    assert spawned == ["recording-1.2", "recording-0.9"]
