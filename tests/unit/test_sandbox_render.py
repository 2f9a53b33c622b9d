"""Pure rendering of the sandbox's Asterisk configuration (no Asterisk needed)."""

from __future__ import annotations

import re
import secrets
import stat
from pathlib import Path

import pytest

from hotline_sandbox.errors import SandboxError
from hotline_sandbox.layout import chroot_paths, host_path, host_paths
from hotline_sandbox.render import (
    check_outside_repo,
    placeholder_values,
    render_templates,
    render_text,
    template_names,
    write_config_dir,
)
from hotline_sandbox.settings import SandboxSettings, repo_root

# made up at run time, so the secret cannot appear in the repo by accident
SECRET = f"sandbox-test-{secrets.token_urlsafe(16)}"
PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# Placeholders the owner of extensions.conf.tmpl documents for it.
EXTENSIONS_PLACEHOLDERS = {"AGI_URL", "FALLBACK_DIAL", "AGENT_DIAL"}


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    return SandboxSettings(
        run_dir=tmp_path / "run",
        cache_dir=tmp_path / "cache",
        ami_user="hotline-test",
        ami_port=15038,
        sip_port=15060,
        agi_url="agi://127.0.0.1:14573",
        fallback_dial="PJSIP/fallback-desk",
        agent_dial="PJSIP/agent-1002",
        agent_base_port=15170,
        fallback_port=15190,
        subcenters_port=15191,
        kept_seats_port=15192,
        emergency_port=15193,
        emergency_backup_port=15194,
        rtp_start=20000,
        rtp_end=20099,
    )


@pytest.fixture
def values(settings: SandboxSettings) -> dict[str, str]:
    return placeholder_values(
        settings, chroot_paths("/usr/lib/x86_64-linux-gnu/asterisk/modules"), SECRET
    )


@pytest.fixture
def rendered(settings: SandboxSettings, values: dict[str, str]) -> dict[str, str]:
    return render_templates(settings.dialplans_dir, values)


def _templates() -> dict[str, str]:
    return {
        p.name.removesuffix(".tmpl"): p.read_text(encoding="utf-8")
        for p in template_names(repo_root() / "dialplans")
    }


def _section(text: str, name: str) -> dict[str, str]:
    """key -> value of the first [name] section of an Asterisk config."""
    out: dict[str, str] = {}
    inside = False
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            if inside:
                break
            inside = line.split("]", 1)[0] == f"[{name}"
            continue
        if inside and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.lstrip(">").strip()
    return out


def test_render_text_keeps_unknown_asterisk_variables() -> None:
    text = "exten => _X.,1,AGI(${AGI_URL}/route)\n same => n,Set(X=${EXTEN}:${CALLERID(num)})\n"
    out = render_text(text, {"AGI_URL": "agi://h:1"})
    assert out == (
        "exten => _X.,1,AGI(agi://h:1/route)\n same => n,Set(X=${EXTEN}:${CALLERID(num)})\n"
    )


def test_render_text_keeps_expressions_and_lone_dollars() -> None:
    text = 'GotoIf($["${AGISTATUS}" != "SUCCESS"]?f,s,1) $ ${ $} ${AMI_SECRET}'
    out = render_text(text, {"AMI_SECRET": "x"})
    assert out == 'GotoIf($["${AGISTATUS}" != "SUCCESS"]?f,s,1) $ ${ $} x'


def test_every_template_renders_and_nothing_else_changes(values: dict[str, str]) -> None:
    # Rendering with each placeholder mapped to itself must give back the
    # template unchanged: only placeholders are touched (no `$$` folding etc.).
    identity = {name: f"${{{name}}}" for name in values}
    for name, text in _templates().items():
        assert render_text(text, identity) == text, name


def test_expected_templates_exist() -> None:
    names = set(_templates())
    expected = {
        "asterisk.conf",
        "modules.conf",
        "manager.conf",
        "pjsip.conf",
        "logger.conf",
        "rtp.conf",
        "musiconhold.conf",
        "queues.conf",
        "confbridge.conf",
        "features.conf",
        "extensions.conf",
    }
    assert expected <= names


def test_all_placeholders_are_known_and_substituted(
    rendered: dict[str, str], values: dict[str, str]
) -> None:
    templates = _templates()
    for name, text in templates.items():
        used = set(PLACEHOLDER_RE.findall(text))
        if name == "extensions.conf":
            # Asterisk's own ${VAR}s stay; ours are replaced
            assert used >= EXTENSIONS_PLACEHOLDERS
            leftover = set(PLACEHOLDER_RE.findall(rendered[name]))
            assert not leftover & set(values), leftover & set(values)
        else:
            # our templates use no Asterisk ${VAR}s: everything is a placeholder
            assert used <= set(values), (name, used - set(values))
            assert "${" not in rendered[name], name


def test_extensions_conf_rendered(rendered: dict[str, str]) -> None:
    text = rendered["extensions.conf"]
    assert "HOTLINE_AGI=agi://127.0.0.1:14573" in text
    assert "HOTLINE_FALLBACK=PJSIP/fallback-desk" in text
    assert "Dial(PJSIP/agent-1002)" in text
    assert "AGI(${HOTLINE_AGI}/route)" in text
    assert "Set(__HOTLINE_DNIS=${EXTEN})" in text
    assert '$["${AGISTATUS}" != "SUCCESS"]' in text
    assert "[from-trunk]" in text


def test_manager_conf_loopback_one_user(rendered: dict[str, str]) -> None:
    text = rendered["manager.conf"]
    general = _section(text, "general")
    assert general["bindaddr"] == "127.0.0.1"
    assert general["port"] == "15038"
    assert general["enabled"] == "yes"
    user = _section(text, "hotline-test")
    assert user["secret"] == SECRET
    # least privilege: never system or command to write, never "all" (test_hardening_sandbox)
    assert user["read"] == "call,user,agent,system"
    assert user["write"] == "call,originate,agent,reporting"
    assert user["permit"].startswith("127.0.0.1")
    users = [s for s in re.findall(r"^\[([^\]]+)\]", text, re.M) if s != "general"]
    assert users == ["hotline-test"]


def test_pjsip_conf(rendered: dict[str, str]) -> None:
    text = rendered["pjsip.conf"]
    assert _section(text, "global")["endpoint_identifier_order"] == "username,ip,anonymous"
    assert _section(text, "transport-udp")["bind"] == "127.0.0.1:15060"
    assert "sandbox" in text.lower() and "not a production" in text.lower()
    template = _section(text, "peer-endpoint")
    assert template["direct_media"] == "no"
    assert template["rtp_symmetric"] == "yes"
    assert template["allow"] == "ulaw,alaw"
    assert _section(text, "trunk")["context"] == "from-trunk"
    assert _section(text, "trunk-identify")["match"] == "127.0.0.1"
    assert "qualify_frequency = 0" in text
    assert "auth" not in {line.split("=")[0].strip() for line in text.splitlines()}
    contacts = dict(re.findall(r"^contact = sip:(?:([\w-]+)@)?127\.0\.0\.1:(\d+)$", text, re.M))
    for n in range(1, 9):
        assert contacts[f"agent-100{n}"] == str(15170 + n)
    assert contacts["fallback-desk"] == "15190"
    ports = set(re.findall(r"^contact = sip:(?:[\w-]+@)?127\.0\.0\.1:(\d+)$", text, re.M))
    assert {"15191", "15192", "15193", "15194"} <= ports
    for endpoint in ["subcenters", "kept-seats", "emergency", "emergency-backup", "fallback-desk"]:
        assert f"[{endpoint}](peer-endpoint)" in text
        assert f"[{endpoint}](peer-aor)" in text
    for n in range(1, 9):
        assert _section(text, f"agent-100{n}").get("context") == "agents"


def test_default_agent_ports() -> None:
    settings = SandboxSettings()
    assert settings.agent_ports()["agent-1001"] == 5171
    assert settings.agent_ports()["agent-1008"] == 5178
    assert settings.peer_ports()["fallback-desk"] == 5190
    assert settings.peer_ports()["emergency-backup"] == 5194


def test_modules_conf_explicit_list(rendered: dict[str, str]) -> None:
    text = rendered["modules.conf"]
    assert re.search(r"^autoload = no$", text, re.M)
    listed = set(re.findall(r"^(?:require|load) = (\w+)\.so$", text, re.M))
    needed = {
        "res_pjsip",
        "res_pjsip_session",
        "res_pjsip_sdp_rtp",
        "res_pjsip_endpoint_identifier_ip",
        "res_pjsip_endpoint_identifier_user",
        "chan_pjsip",
        "res_rtp_asterisk",
        "res_agi",
        "app_playback",
        "app_dial",
        "app_queue",
        "app_confbridge",
        "app_audiosocket",
        "res_audiosocket",
        "chan_audiosocket",
        "app_mixmonitor",
        "app_userevent",
        "app_exec",
        "pbx_config",
        "bridge_simple",
        "bridge_softmix",
        "format_wav",
        "codec_ulaw",
        "codec_alaw",
        "res_timing_timerfd",
        "res_musiconhold",
    }
    assert needed <= listed, needed - listed
    assert "res_pjsip_outbound_registration" not in listed


def test_rtp_and_directories(rendered: dict[str, str]) -> None:
    rtp = _section(rendered["rtp.conf"], "general")
    assert (rtp["rtpstart"], rtp["rtpend"]) == ("20000", "20099")
    dirs = _section(rendered["asterisk.conf"], "directories")
    assert dirs["astetcdir"] == "/etc/asterisk"
    assert dirs["astdatadir"] == "/usr/share/asterisk"
    # `[directories](!)` would make it a template that Asterisk ignores
    assert "[directories](!)" not in rendered["asterisk.conf"]
    assert "/usr/share/asterisk/sounds/en/silence" in rendered["musiconhold.conf"]


def test_host_layout_under_run_dir(settings: SandboxSettings, tmp_path: Path) -> None:
    paths = host_paths(tmp_path / "ast", "/usr/lib/asterisk/modules")
    out = render_templates(settings.dialplans_dir, placeholder_values(settings, paths, SECRET))
    dirs = _section(out["asterisk.conf"], "directories")
    assert dirs["astetcdir"] == str(tmp_path / "ast" / "etc")
    assert dirs["astrundir"] == str(tmp_path / "ast" / "run")
    assert paths.sounds_dir == str(tmp_path / "ast" / "data" / "sounds")
    assert host_path(Path("/chroot"), "/etc/asterisk") == Path("/chroot/etc/asterisk")


def test_written_config_is_private_and_pruned(tmp_path: Path, rendered: dict[str, str]) -> None:
    out = tmp_path / "etc"
    out.mkdir()
    (out / "stale.conf").write_text("old")
    written = write_config_dir(out, rendered)
    assert {p.name for p in written} == set(rendered)
    assert not (out / "stale.conf").exists()
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert SECRET in (out / "manager.conf").read_text()


def test_secret_is_never_written_into_the_repo(tmp_path: Path, rendered: dict[str, str]) -> None:
    root = repo_root()
    with pytest.raises(SandboxError, match="outside the repository"):
        write_config_dir(root / "dialplans" / "rendered", rendered)
    assert not (root / "dialplans" / "rendered").exists()
    with pytest.raises(SandboxError):
        check_outside_repo(root / "tmp-run")
    write_config_dir(tmp_path / "etc", rendered)
    skip = {".git", ".venv", "node_modules", ".mypy_cache", ".ruff_cache", "__pycache__"}
    for path in root.rglob("*"):
        if skip & set(path.relative_to(root).parts) or not path.is_file():
            continue
        if path.stat().st_size > 2_000_000:
            continue
        assert SECRET.encode() not in path.read_bytes(), path


def test_missing_template_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxError):
        render_templates(tmp_path / "nope", {})
    (tmp_path / "empty").mkdir()
    with pytest.raises(SandboxError):
        render_templates(tmp_path / "empty", {})


def test_a_running_sandbox_from_other_templates_is_noticed(tmp_path: Path) -> None:
    from hotline_sandbox.render import differing_files

    (tmp_path / "extensions.conf").write_text("[hotline-queue]\n", encoding="utf-8")
    (tmp_path / "modules.conf").write_text("autoload=no\n", encoding="utf-8")
    rendered = {"extensions.conf": "[hotline-queue]\n[hotline-survey]\n",
                "modules.conf": "autoload=no\n", "rtp.conf": "rtpstart=10000\n"}
    assert differing_files(tmp_path, rendered) == ["extensions.conf", "rtp.conf"]
    assert differing_files(tmp_path, {"modules.conf": "autoload=no\n"}) == []
