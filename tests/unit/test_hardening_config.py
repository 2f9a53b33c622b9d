"""Strict patterns in routing_rules.yaml: dial strings cannot inject Dial() options or
channels, prompt ids cannot walk out of the recordings (file:line errors, like every
other config problem)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config.engine import load_engine_config
from ivr.config.errors import ConfigError


def problems_after(config: Path, old: str, new: str) -> list[str]:
    path = config / "routing_rules.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_engine_config(config)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("dial", [
    "PJSIP/12366@subcenters,60,tT",          # Dial options
    "PJSIP/12366@subcenters&PJSIP/110@emergency",  # a second channel
    "PJSIP/${EVIL}",                          # a dialplan expression
    "PJSIP/12366@subcenters Local/x",         # whitespace
    '"PJSIP/12366"',                          # quotes
    "PJSIP/",                                 # no resource
    "/12366",                                 # no technology
    "PJSIP/a;b",                              # a comment in .conf terms
])
def test_dial_strings_reject_injection(mini_config: Path, dial: str) -> None:
    found = problems_after(mini_config, "subcenter-12366: {dial: PJSIP/12366@subcenters}",
                           f"subcenter-12366: {{dial: '{dial}'}}")
    assert any("routing_rules.yaml:44: endpoints.subcenter-12366.dial: a dial string is one "
               "TECH/resource" in p for p in found), found


@pytest.mark.parametrize("dial", ["PJSIP/12366@subcenters", "IAX2/trunk/12366", "Local/s@ctx/n",
                                  "DAHDI/g1/+8612366", "PJSIP/agent-1001"])
def test_ordinary_dial_strings_are_fine(mini_config: Path, dial: str) -> None:
    path = mini_config / "routing_rules.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{dial: PJSIP/12366@subcenters}", f"{{dial: '{dial}'}}", 1),
                    encoding="utf-8")
    assert load_engine_config(mini_config).rules.endpoints["subcenter-12366"].dial == dial


def test_backup_dial_is_strict_too(mini_config: Path) -> None:
    found = problems_after(mini_config, "backup_dial: PJSIP/110@emergency-backup}",
                           "backup_dial: 'PJSIP/110@emergency-backup,,D(1)'}")
    assert any(":37: emergency.110.backup_dial: a dial string" in p for p in found), found


@pytest.mark.parametrize("prompt", ["../../etc/passwd", "custom/listen", "Listen", "listen now",
                                    "..", ""])
def test_listening_prompt_is_an_id_not_a_path(mini_config: Path, prompt: str) -> None:
    path = mini_config / "routing_rules.yaml"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\nlistening:\n  prompt: '{prompt}'\n")
    lines = path.read_text(encoding="utf-8").count("\n")
    with pytest.raises(ConfigError) as info:
        load_engine_config(mini_config)
    found = [str(p) for p in info.value.problems]
    assert any(f"routing_rules.yaml:{lines}: listening.prompt: a prompt id is lower-case" in p
               for p in found), found


def test_listening_prompt_id_is_fine(mini_config: Path) -> None:
    path = mini_config / "routing_rules.yaml"
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\nlistening:\n  prompt: listen-2\n")
    assert load_engine_config(mini_config).rules.listening.prompt == "listen-2"
