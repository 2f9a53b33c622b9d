"""AMI: nothing the controller sends can break out of its line; an impostor that never
sends a banner is cut off; the sandbox's AMI user has least privilege and receives
exactly the events the features consume."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline_sandbox.settings import AMI_EVENTS, AMI_READ, AMI_WRITE, ami_eventfilters
from ivr.ami.codec import MAX_BANNER, AmiParser, AmiProtocolError, encode_action
from ivr.clock import SystemClock
from ivr.config.engine import load_engine_config
from ivr.controller.app import FEATURES
from ivr.core.callstore import CallStore
from ivr.core.features import Registry
from testkit.core import make_core

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("fields", "variables"), [
    ({"Channel": "PJSIP/x\r\nAction: Originate"}, None),
    ({"Channel\r\nAction: Command": "x"}, None),
    ({"Chan:nel": "x"}, None),
    ({"Channel": "x\0"}, None),
    (None, {"HOTLINE_XFER_ID": "x\r\n\r\nAction: Command\r\nCommand: core stop now"}),
    (None, {"HOTLINE_XFER_ID": "x\nAction: Command"}),
    (None, {"A=B": "x"}),
    (None, {"A\r\nB": "x"}),
])
def test_encode_action_rejects_line_breaks_everywhere(
        fields: dict[str, str] | None, variables: dict[str, str] | None) -> None:
    with pytest.raises(ValueError):
        encode_action("Originate", "hl-1", fields, variables)


@pytest.mark.parametrize(("action", "action_id"), [("Ping\r\nAction: Command", "1"),
                                                   ("Ping", "1\r\nAction: Command")])
def test_action_and_id_cannot_break_out(action: str, action_id: str) -> None:
    with pytest.raises(ValueError):
        encode_action(action, action_id)


def test_ordinary_actions_still_encode() -> None:
    assert encode_action("Setvar", "hl-1", {"Channel": "PJSIP/a-1", "Variable": "X"},
                         {"A": "summary: 来电=1"}) == (
        "Action: Setvar\r\nActionID: hl-1\r\nChannel: PJSIP/a-1\r\nVariable: X\r\n"
        "Variable: A=summary: 来电=1\r\n\r\n").encode()


def test_no_banner_in_the_first_bytes_is_an_error() -> None:
    parser = AmiParser()
    with pytest.raises(AmiProtocolError, match="no AMI banner"):
        for _ in range(100):
            parser.feed(b"x" * 16)
    assert MAX_BANNER < 16 * 100


def test_a_complete_oversize_message_is_an_error() -> None:
    parser = AmiParser()
    parser.feed(b"Asterisk Call Manager/9.0.0\r\n")
    with pytest.raises(AmiProtocolError, match="larger than"):
        parser.feed(b"Event: X\r\nData: " + b"y" * (1 << 20) + b"\r\n\r\n")


# --- the sandbox's AMI user ----------------------------------------------------------------------


def test_the_ami_user_never_gets_system_or_command_to_write() -> None:
    assert not {"system", "command", "all", "config", "dtmf"} & set(AMI_WRITE)
    assert "all" not in AMI_READ


async def test_eventfilters_are_exactly_what_the_features_consume(tmp_path: Path) -> None:
    """The sandbox's list equals the controller's registry (plus the core's FullyBooted):
    a feature that starts consuming an event must add it here, or it would never see it."""
    config = load_engine_config(REPO)
    async with CallStore(tmp_path / "calls.db") as calls:
        core = make_core(lambda: config, calls, SystemClock(), tmp_path)
        registry = Registry()
        for register in FEATURES:
            registry.add(register(core))
        try:
            consumed = registry.ami_events
        finally:
            for feature in registry.features:
                if feature.on_stop is not None:
                    feature.on_stop()
    assert consumed is not None, "a feature asks for every AMI event: no filter possible"
    assert set(AMI_EVENTS) == set(consumed) | {"FullyBooted"}


def test_eventfilters_match_names_exactly() -> None:
    lines = ami_eventfilters().splitlines()
    assert len(lines) == len(AMI_EVENTS)
    posix = lines[AMI_EVENTS.index("Hangup")].split("=", 1)[1].strip()
    regex = re.compile(posix.replace("[[:space:]]", r"\s"))  # Python's re has no [[:space:]]
    assert regex.search("Event: Hangup\r\nPrivilege: call,all\r\n")
    assert not regex.search("Event: HangupRequest\r\n")
    assert not regex.search("Event: HangupHandlerPush\r\n")


def test_rendered_manager_conf_has_the_filters(tmp_path: Path) -> None:
    from hotline_sandbox.layout import host_paths
    from hotline_sandbox.render import placeholder_values, render_templates
    from hotline_sandbox.settings import SandboxSettings

    settings = SandboxSettings(run_dir=tmp_path / "run")
    values = placeholder_values(settings, host_paths(tmp_path / "ast", "/usr/lib/asterisk/modules"),
                                "s3cret")
    text = render_templates(REPO / "dialplans", values)["manager.conf"]
    assert "read = call,user,agent,system\nwrite = call,originate,agent,reporting\n" in text
    assert "eventfilter = Event: UserEvent[[:space:]]" in text
    assert "${" not in text.replace("${AMI_", "")


def test_queue_log_is_off() -> None:
    text = (REPO / "dialplans" / "logger.conf.tmpl").read_text()
    assert re.search(r"^queue_log = no$", text, re.M)

