"""Supervisor monitoring (issue 15): the roster's supervisors, permission, the agent's live
call, the ChanSpy options per mode, the AMI Originate, and the audit of every session."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ivr.agi.codec import AgiEnvironment
from ivr.ami.codec import AmiMessage
from ivr.config.engine import load_engine_config
from ivr.config.roster import Roster
from ivr.quality.store import QualityStore
from ivr.quality.supervision import MODE_EVENT, MODE_KEYS, MODES, SupervisionService

REPO = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return AT


def msg(**fields: str) -> AmiMessage:
    return AmiMessage(tuple(fields.items()))


class Ami:
    def __init__(self, channels: list[AmiMessage]) -> None:
        self.channels = channels
        self.actions: list[tuple[str, dict[str, str], dict[str, str] | None]] = []

    async def action(self, action: str, fields: dict[str, str] | None = None,
                     variables: dict[str, str] | None = None) -> AmiMessage:
        self.actions.append((action, fields or {}, variables))
        return msg(Response="Success")

    async def action_list(self, action: str,
                          fields: dict[str, str] | None = None) -> list[AmiMessage]:
        return self.channels


IN_CALL = [
    msg(Channel="PJSIP/trunk-00000031", Uniqueid="1795917600.1", Linkedid="1795917600.1",
        BridgeId="b1", Application="Queue"),
    msg(Channel="PJSIP/agent-1001-00000032", Uniqueid="1795917600.2", Linkedid="1795917600.1",
        BridgeId="b1", Application="AppQueue"),
    msg(Channel="PJSIP/agent-10010-00000040", Uniqueid="1795917600.9", Linkedid="1795917600.9",
        BridgeId="b9", Application="AppQueue"),
]


@functools.cache
def shipped() -> Any:
    return load_engine_config(REPO)


def service(tmp_path: Path, channels: list[AmiMessage] | None = None
            ) -> tuple[SupervisionService, Ami, QualityStore]:
    config = shipped()
    ami = Ami(IN_CALL if channels is None else channels)
    store = QualityStore(tmp_path / "quality.db")
    return SupervisionService(lambda: config, Clock(), lambda: ami, store), ami, store


def test_the_shipped_roster_has_supervisors() -> None:
    roster = load_engine_config(REPO).roster
    sup = roster.supervisor_by_id("1101")
    assert sup is not None and sup.interface == "PJSIP/supervisor-1101"
    agent = roster.by_id("1001")
    other = roster.by_id("1005")
    assert agent and other and sup.may_supervise(agent) and not sup.may_supervise(other)
    narrow = roster.supervisor_by_id("1102")
    assert narrow and narrow.may_supervise(other) and not narrow.may_supervise(agent)
    assert roster.supervisor_by_interface("pjsip/supervisor-1101") is sup


BASE = {"version": 1, "agents": [{"id": "1", "name": "a", "interface": "PJSIP/a",
                                  "skills": {"general": 5}}]}


@pytest.mark.parametrize("supervisors", [
    [{"id": "9", "name": "s", "interface": "PJSIP/s"}],  # supervises nobody
    [{"id": "1", "name": "s", "interface": "PJSIP/s", "skills": ["general"]}],  # an agent's id
    [{"id": "9", "name": "s", "interface": "PJSIP/a", "skills": ["general"]}],  # an agent's phone
    [{"id": "9", "name": "s", "interface": "PJSIP/s", "agents": ["7"]}],  # unknown agent
    [{"id": "9", "name": "s", "interface": "PJSIP/s", "skills": ["general"], "role": "x"}],
])
def test_the_supervisor_schema_is_strict(supervisors: list[dict[str, Any]]) -> None:
    with pytest.raises(ValidationError):
        Roster.model_validate({**BASE, "supervisors": supervisors})


def test_a_roster_without_supervisors_is_still_valid() -> None:
    assert Roster.model_validate(BASE).supervisors == []


def test_modes_map_to_chanspy_options() -> None:
    assert MODES == {"listen": "qEX", "whisper": "qwEX", "barge": "qBEX"}
    assert MODE_KEYS == {"4": "listen", "5": "whisper", "6": "barge"}


def test_the_dialplan_switches_modes_with_the_same_options() -> None:
    """Keys 4 / 5 / 6 in [hotline-spy] set the options of MODES and announce the mode."""
    text = (REPO / "dialplans" / "extensions.conf.tmpl").read_text(encoding="utf-8")
    spy = text[text.index("[hotline-spy]\n"):]
    spy = spy[:spy.index("\n[", 1)]
    for key, mode in MODE_KEYS.items():
        block = spy[spy.index(f"exten => {key},1,"):]
        block = block[:block.index("Goto(mode,1)")]
        assert f"Set(HOTLINE_SPY_MODE={mode})" in block, block
        assert f"Set(HOTLINE_SPY_OPTIONS={MODES[mode]})" in block, block
    assert f"UserEvent({MODE_EVENT},CallId: ${{HOTLINE_CALL_ID}},Mode: ${{HOTLINE_SPY_MODE}})" \
        in spy


def test_a_mode_switch_from_the_phone_is_audited(tmp_path: Path) -> None:
    svc, _, store = service(tmp_path)
    reply = asyncio.run(svc.handle("supervise.start",
                                   {"supervisor": "1101", "agent": "1001", "mode": "listen"}))
    session = reply["result"]["session"]

    def switch(mode: str, uniqueid: str = session) -> None:
        asyncio.run(svc.on_ami(msg(Event="UserEvent", UserEvent=MODE_EVENT, Uniqueid=uniqueid,
                                   CallId="1795917600.1", Mode=mode)))

    switch("whisper")
    switch("whisper")  # the same key again: no change, no entry
    switch("barge")
    switch("barge", "1795917600.77")  # not a session of this controller
    switch("shout")
    asyncio.run(svc.on_ami(msg(Event="Hangup", Uniqueid=session)))
    entries = store.audit_entries()
    assert [e.action for e in entries] == ["monitor_start", "monitor_mode", "monitor_mode",
                                           "monitor_end"]
    modes = [(e.actor, e.subject, e.call_id, e.detail["from_mode"], e.detail["to_mode"], e.mode,
              e.at) for e in entries if e.action == "monitor_mode"]
    assert modes == [("1101", "1001", "1795917600.1", "listen", "whisper", "whisper", AT.isoformat()),
                     ("1101", "1001", "1795917600.1", "whisper", "barge", "barge", AT.isoformat())]
    end = entries[-1]
    assert end.mode == "listen" and end.detail["last_mode"] == "barge"


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
def test_cli_originates_the_supervisor_phone_into_chanspy(tmp_path: Path, mode: str) -> None:
    svc, ami, store = service(tmp_path)
    reply = asyncio.run(svc.handle("supervise.start",
                                   {"supervisor": "1101", "agent": "1001", "mode": mode}))
    assert reply["ok"], reply
    result = reply["result"]
    assert result["agent_channel"] == "PJSIP/agent-1001-00000032"
    assert result["call_id"] == "1795917600.1"
    ((action, fields, variables),) = ami.actions
    assert action == "Originate" and fields["Channel"] == "PJSIP/supervisor-1101"
    assert fields["Context"] == "hotline-spy" and fields["ChannelId"] == result["session"]
    assert variables == {"HOTLINE_SPY_CHANNEL": "PJSIP/agent-1001-00000032",
                         "HOTLINE_SPY_OPTIONS": MODES[mode],
                         "HOTLINE_SPY_SESSION": result["session"],
                         "HOTLINE_CALL_ID": "1795917600.1"}
    (start,) = store.audit_entries()
    assert (start.actor, start.action, start.subject, start.mode, start.call_id) == (
        "1101", "monitor_start", "1001", mode, "1795917600.1")
    asyncio.run(svc.on_hangup(msg(Event="Hangup", Uniqueid=result["session"])))
    end = store.audit_entries()[-1]
    assert end.action == "monitor_end" and end.started_at and end.ended_at
    assert not svc.sessions


@pytest.mark.parametrize(("args", "reason"), [
    ({"supervisor": "1102", "agent": "1001", "mode": "listen"}, "may not monitor agent 1001"),
    ({"supervisor": "9999", "agent": "1001", "mode": "listen"}, "not a supervisor"),
    ({"supervisor": "1101", "agent": "1008", "mode": "barge"}, "has no call"),
    ({"supervisor": "1101", "agent": "1001", "mode": "shout"}, "unknown mode"),
    ({"supervisor": "1101", "agent": "4242", "mode": "listen"}, "no agent"),
])
def test_refusals_are_errors_and_audited(tmp_path: Path, args: dict[str, str],
                                         reason: str) -> None:
    svc, ami, store = service(tmp_path)
    reply = asyncio.run(svc.handle("supervise.start", args))
    assert not reply["ok"] and reason in reply["error"]
    assert ami.actions == []
    (entry,) = store.audit_entries()
    assert entry.action == "monitor_refused" and entry.actor == args["supervisor"]
    assert entry.detail["reason"] == reply["error"] and entry.detail["by"] == "cli"


def test_an_agent_with_a_prefix_of_another_phone_is_not_confused(tmp_path: Path) -> None:
    svc, _, _ = service(tmp_path, IN_CALL[2:])  # only agent-10010 is in a call
    reply = asyncio.run(svc.handle("supervise.start",
                                   {"supervisor": "1101", "agent": "1001", "mode": "listen"}))
    assert not reply["ok"] and "has no call" in reply["error"]


class Session:
    def __init__(self, env: AgiEnvironment) -> None:
        self.env = env
        self.variables: dict[str, str] = {}

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value


def agi(channel: str, uniqueid: str, *args: str) -> Session:
    variables = {"agi_channel": channel, "agi_uniqueid": uniqueid,
                 "agi_network_script": "supervise"}
    variables.update({f"agi_arg_{i}": a for i, a in enumerate(args, start=1)})
    return Session(AgiEnvironment(variables))


def test_phone_code_sets_the_spy_variables_after_asterisk_confirms(tmp_path: Path) -> None:
    phone = msg(Channel="PJSIP/supervisor-1101-00000050", Uniqueid="1795917600.5",
                Application="AGI")
    svc, _, store = service(tmp_path, [*IN_CALL, phone])
    session = agi("PJSIP/supervisor-1101-00000050", "1795917600.5", "whisper", "1001")
    asyncio.run(svc.handle_agi(session))  # type: ignore[arg-type]
    assert session.variables == {"HOTLINE_SPY_CHANNEL": "PJSIP/agent-1001-00000032",
                                 "HOTLINE_SPY_OPTIONS": MODES["whisper"],
                                 "HOTLINE_SPY_RESULT": "ok"}
    assert store.audit_entries()[0].detail["by"] == "phone"
    # a phone that is no supervisor's, or an agent it may not monitor, is refused
    for channel, agent in (("PJSIP/agent-1002-00000051", "1001"),
                           ("PJSIP/supervisor-1101-00000050", "1005")):
        phone = msg(Channel=channel, Uniqueid="1795917600.6", Application="AGI")
        svc, _, store = service(tmp_path / channel[-2:], [*IN_CALL, phone])
        session = agi(channel, "1795917600.6", "listen", agent)
        asyncio.run(svc.handle_agi(session))  # type: ignore[arg-type]
        assert session.variables == {"HOTLINE_SPY_RESULT": "refused"}
        assert store.audit_entries()[0].action == "monitor_refused"


def test_an_unconfirmed_phone_request_is_refused(tmp_path: Path) -> None:
    svc, _, store = service(tmp_path)  # the requesting channel is not up
    session = agi("PJSIP/supervisor-1101-00000099", "1.1", "listen", "1001")
    asyncio.run(svc.handle_agi(session))  # type: ignore[arg-type]
    assert session.variables == {"HOTLINE_SPY_RESULT": "refused"}
    assert "not confirmed" in store.audit_entries()[0].detail["reason"]


def test_the_sandbox_renders_a_supervisor_phone_and_the_spy_contexts(tmp_path: Path) -> None:
    from hotline_sandbox.layout import chroot_paths
    from hotline_sandbox.render import placeholder_values, render_templates
    from hotline_sandbox.settings import SandboxSettings

    settings = SandboxSettings(run_dir=tmp_path / "run", cache_dir=tmp_path / "cache",
                               supervisor_1101_port=15195)
    values = placeholder_values(settings, chroot_paths("/usr/lib/asterisk/modules"), "s3cret")
    rendered = render_templates(settings.dialplans_dir, values)
    pjsip = rendered["pjsip.conf"]
    assert "[supervisor-1101](peer-endpoint)\ncontext = supervisors" in pjsip
    assert "sip:supervisor-1101@127.0.0.1:15195" in pjsip
    assert settings.peer_ports()["supervisor-1101"] == 15195
    ext = rendered["extensions.conf"]
    for needle in ("[supervisors]", "exten => _*31X.,1", "[hotline-spy]",
                   "ChanSpy(${HOTLINE_SPY_CHANNEL},${HOTLINE_SPY_OPTIONS})",
                   "AGI(${HOTLINE_AGI}/supervise,${EXTEN},${HOTLINE_SPY_AGENT})",
                   "MixMonitor(${HOTLINE_REC_FILE}.${HOTLINE_REC_FORMAT},bi(HOTLINE_REC_ID))",
                   "MixMonitor(/var/spool/hotline12345/recordings/bench/${UNIQUEID}.gsm,b)"):
        assert needle in ext, needle


def test_hotline_audit_shows_a_switch_from_and_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from ivr.cli.main import main
    from ivr.quality.store import DB_NAME

    run = tmp_path / "run"
    monkeypatch.setenv("HOTLINE_RUN_DIR", str(run))
    config = shipped()
    store = QualityStore(run / DB_NAME)
    svc = SupervisionService(lambda: config, Clock(), lambda: Ami(IN_CALL), store)
    reply = asyncio.run(svc.handle("supervise.start",
                                   {"supervisor": "1101", "agent": "1001", "mode": "listen"}))
    asyncio.run(svc.on_ami(msg(Event="UserEvent", UserEvent=MODE_EVENT,
                               Uniqueid=reply["result"]["session"], Mode="barge")))
    assert main(["audit"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (switch,) = [line for line in lines if "monitor_mode" in line]
    assert "listen>barge" in switch and "1795917600.1" in switch and "1101" in switch
