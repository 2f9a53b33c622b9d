"""Rendering ``dialplans/*.tmpl`` into an Asterisk configuration directory.

Templates use :class:`string.Template` placeholders (``${NAME}``).  Rendering
uses ``safe_substitute``: an Asterisk variable such as ``${EXTEN}`` that is
not a known placeholder is left exactly as written.  The rendered files hold
the AMI secret, so they are never written inside the repository.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from pathlib import Path

from hotline_sandbox.errors import SandboxError
from hotline_sandbox.layout import AsteriskPaths
from hotline_sandbox.settings import (
    AMI_READ,
    AMI_WRITE,
    SandboxSettings,
    ami_eventfilters,
    repo_root,
)

TEMPLATE_SUFFIX = ".tmpl"


def placeholder_values(
    settings: SandboxSettings, paths: AsteriskPaths, ami_secret: str
) -> dict[str, str]:
    """Every placeholder the templates may use, as strings."""
    values = {
        "AMI_USER": settings.ami_user,
        "AMI_SECRET": ami_secret,
        "AMI_PORT": str(settings.ami_port),
        "AMI_READ": ",".join(AMI_READ),
        "AMI_WRITE": ",".join(AMI_WRITE),
        "AMI_EVENTFILTERS": ami_eventfilters(),
        "SIP_PORT": str(settings.sip_port),
        "AGI_URL": settings.agi_url,
        "FALLBACK_DIAL": settings.fallback_dial,
        "AGENT_DIAL": settings.agent_dial,
        "SOUNDS_DIR": paths.sounds_dir,
        "RTP_START": str(settings.rtp_start),
        "RTP_END": str(settings.rtp_end),
        "AGENT_BASE_PORT": str(settings.agent_base_port),
        "FALLBACK_PORT": str(settings.fallback_port),
        "SUBCENTERS_PORT": str(settings.subcenters_port),
        "KEPT_SEATS_PORT": str(settings.kept_seats_port),
        "EMERGENCY_PORT": str(settings.emergency_port),
        "EMERGENCY_BACKUP_PORT": str(settings.emergency_backup_port),
        "SUPERVISOR_1101_PORT": str(settings.supervisor_1101_port),
        "AST_ETC_DIR": paths.etc_dir,
        "AST_MOD_DIR": paths.mod_dir,
        "AST_VARLIB_DIR": paths.varlib_dir,
        "AST_DB_DIR": paths.db_dir,
        "AST_DATA_DIR": paths.data_dir,
        "AST_SPOOL_DIR": paths.spool_dir,
        "AST_RUN_DIR": paths.run_dir,
        "AST_LOG_DIR": paths.log_dir,
        "AST_CACHE_DIR": paths.cache_dir,
        "AST_SBIN_DIR": paths.sbin_dir,
    }
    values.update(acd_config_values(settings))
    # music on hold wants a path: the transfer hold prompt, studio recording or generated
    values["HOLD_PROMPT"] = f"{paths.sounds_dir}/{values.pop('HOLD_SOUND')}"
    for name, port in settings.agent_ports().items():
        # agent-1001 -> AGENT_1001_PORT
        values[f"{name.upper().replace('-', '_')}_PORT"] = str(port)
    return values


def acd_config_values(settings: SandboxSettings) -> dict[str, str]:
    """``HOTLINE_QUEUES`` and ``HOTLINE_QUEUE_RULES``: app_queue configuration for the ACD."""
    from agent_pool.asterisk_conf import render_queue_rules, render_queues
    from ivr.config.engine import load_engine_config
    from ivr.config.errors import ConfigError
    from ivr.prompts.library import PromptLibrary

    try:
        config = load_engine_config(settings.config_dir)
    except ConfigError as exc:
        raise SandboxError(f"configuration in {settings.config_dir} is invalid:\n{exc}") from exc
    acd = config.rules.acd
    comfort = acd.announce.comfort_prompt
    sound = PromptLibrary(settings.recordings_dir).sound_name(comfort) if comfort else None
    library = PromptLibrary(settings.recordings_dir)
    return {
        "HOTLINE_QUEUES": render_queues(config.catalogue, config.roster, acd, sound),
        "HOTLINE_QUEUE_RULES": render_queue_rules(acd),
        "HOLD_SOUND": library.sound_name(config.rules.transfers.hold_prompt),
        "RECORDING_STORE": config.rules.recording.store,
    }


#: The supervisor's phone (issue 15, docs/quality.md), appended to the rendered pjsip.conf.
SUPERVISOR_ENDPOINTS = """
; ------------------------------------------- supervisor phone (SIPp uas), hotline_sandbox
[supervisor-1101](peer-endpoint)
context = supervisors
aors = supervisor-1101
callerid = "Supervisor 1101" <1101>

[supervisor-1101](peer-aor)
contact = sip:supervisor-1101@127.0.0.1:${SUPERVISOR_1101_PORT}
"""


def render_text(template: str, values: Mapping[str, str]) -> str:
    """Substitute known ``${NAME}`` placeholders; leave everything else intact."""
    return string.Template(template).safe_substitute(values)


def template_names(templates_dir: Path) -> list[Path]:
    """The ``*.tmpl`` files in *templates_dir*, sorted."""
    if not templates_dir.is_dir():
        raise SandboxError(f"template directory not found: {templates_dir}")
    return sorted(p for p in templates_dir.glob(f"*{TEMPLATE_SUFFIX}") if p.is_file())


def render_templates(templates_dir: Path, values: Mapping[str, str]) -> dict[str, str]:
    """Render every template: output file name (``extensions.conf``) -> text."""
    rendered: dict[str, str] = {}
    for path in template_names(templates_dir):
        name = path.name.removesuffix(TEMPLATE_SUFFIX)
        rendered[name] = render_text(path.read_text(encoding="utf-8"), values)
        if name == "pjsip.conf" and "[supervisor-1101]" not in rendered[name]:
            rendered[name] += render_text(SUPERVISOR_ENDPOINTS, values)
    if not rendered:
        raise SandboxError(f"no {TEMPLATE_SUFFIX} files in {templates_dir}")
    return rendered


def check_outside_repo(path: Path, what: str = "rendered configuration") -> None:
    """Refuse to put secret-bearing files inside the repository tree."""
    root = repo_root().resolve()
    resolved = path.resolve()
    if resolved == root or root in resolved.parents:
        raise SandboxError(
            f"{what} must live outside the repository ({path} is inside {root}): "
            "it contains the AMI secret"
        )


def write_config_dir(
    out_dir: Path,
    rendered: Mapping[str, str],
    *,
    gid: int | None = None,
    mode: int = 0o640,
    prune: bool = True,
) -> list[Path]:
    """Write *rendered* into *out_dir*, readable by group *gid*.

    Files are created owner-only first and widened to *mode* once their group
    is set, so the secret is never world-readable even for an instant.  With
    *prune*, regular files in *out_dir* that were not rendered are removed
    (the directory then holds exactly the rendered configuration).
    """
    check_outside_repo(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in sorted(rendered.items()):
        target = out_dir / name
        tmp = out_dir / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if gid is not None:
            os.chown(tmp, -1, gid)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        written.append(target)
    if prune:
        keep = set(rendered)
        for entry in out_dir.iterdir():
            if entry.is_file() and not entry.is_symlink() and entry.name not in keep:
                entry.unlink()
    return written


def differing_files(config_dir: Path, rendered: Mapping[str, str]) -> list[str]:
    """The rendered files whose text in *config_dir* is not what *rendered* says (missing,
    unreadable or changed): a running sandbox started from other templates or another
    checkout. Sorted names."""
    differ: list[str] = []
    for name, text in sorted(rendered.items()):
        try:
            if (config_dir / name).read_text(encoding="utf-8") != text:
                differ.append(name)
        except (OSError, UnicodeDecodeError):
            differ.append(name)
    return differ
