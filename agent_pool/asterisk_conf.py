"""queues.conf and queuerules.conf generated from routing_rules.yaml and the catalogue.

``hotline acd render`` prints them for an existing Asterisk; the sandbox renders
them into its configuration at start-up.
"""

from __future__ import annotations

from agent_pool.skills import all_skills, widen_rules
from ivr.catalogue.model import Catalogue
from ivr.config.roster import Roster
from ivr.core.queues import queue_name
from ivr.routing.rules import Acd

HEADER = "; Generated from routing_rules.yaml (acd) by agent_pool; do not edit by hand.\n"


def render_queues(catalogue: Catalogue, roster: Roster, acd: Acd,
                  comfort_sound: str | None) -> str:
    """``queues.conf``: one queue per skill, members added at login over AMI."""
    announce = acd.announce
    lines = [
        HEADER,
        "[general]",
        "persistentmembers = yes      ; logged-in agents survive an Asterisk restart",
        "autofill = yes",
        "shared_lastcall = yes        ; wrap-up and idle time count across all skill queues",
        "log_membername_as_agent = yes",
        "",
        "[hl-template](!)",
        "strategy = leastrecent       ; among equal penalties, the longest-idle agent",
        f"timeout = {acd.ring_timeout_s}",
        f"retry = {acd.retry_s}",
        f"wrapuptime = {acd.wrapup_s}",
        f"autopause = {'all' if acd.autopause_on_no_answer else 'no'}",
        "autopausebusy = no",
        "autopauseunavail = no",
        "ringinuse = no",
        "joinempty = unavailable,invalid    ; nobody logged in: the caller is offered a callback",
        "leavewhenempty = unavailable,invalid",
        "penaltymemberslimit = 0",
        f"musicclass = {announce.music_class}",
        f"announce-position = {'yes' if announce.position else 'no'}",
        f"announce-holdtime = {'yes' if announce.hold_time else 'no'}",
        f"announce-frequency = {announce.frequency_s if announce.position or announce.hold_time else 0}",
        "setinterfacevar = yes",
        "setqueueentryvar = yes",
    ]
    if comfort_sound and announce.comfort_every_s:
        lines += [f"periodic-announce = {comfort_sound}",
                  f"periodic-announce-frequency = {announce.comfort_every_s}"]
    lines.append("")
    for skill in all_skills(catalogue, roster):
        lines.append(f"[{queue_name(skill)}](hl-template)")
    return "\n".join(lines) + "\n"


def render_queue_rules(acd: Acd) -> str:
    """``queuerules.conf``: how long a call waits before it widens to other agents."""
    lines = [HEADER]
    for name, steps in widen_rules(acd).items():
        lines.append(f"[{name}]")
        for seconds, max_penalty in steps:
            lines.append(f"penaltychange => {seconds},{max_penalty}")
        lines.append("")
    return "\n".join(lines)
