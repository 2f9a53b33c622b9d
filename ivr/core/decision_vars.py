"""The decision's channel variables in two AGI commands instead of one per variable.

The controller sets ``HOTLINE_DECISION`` to every ``HOTLINE_*`` value of the decision,
comma-separated in the fixed order of :data:`DECISION_FIELDS`, then ``HOTLINE_TARGET_KIND``
last (the dialplan reads an empty kind as "no decision"). The dialplan unpacks the rest
with one ``Set(ARRAY(<DECISION_FIELDS>)=${HOTLINE_DECISION})``
(``dialplans/extensions.conf.tmpl``; a unit test keeps the two lists equal).

``ARRAY()`` splits its value like any application's arguments: on commas outside quotes,
parentheses and brackets, removing backslashes. Each value is escaped accordingly, so a
comma in ``HOTLINE_TAGS`` or the parentheses of an AudioSocket dial string arrive intact.
Every AGI command is a round trip and a few system calls on both sides (bench/load.py).
"""

from __future__ import annotations

from collections.abc import Mapping

PACKED = "HOTLINE_DECISION"
KIND = "HOTLINE_TARGET_KIND"

#: the variables packed into HOTLINE_DECISION, in order (extend only at the end)
DECISION_FIELDS: tuple[str, ...] = (
    "HOTLINE_CALL_ID", "HOTLINE_LINE", "HOTLINE_MODE", "HOTLINE_PHASE", "HOTLINE_SKILL",
    "HOTLINE_PRIORITY", "HOTLINE_TAGS", "HOTLINE_PROMPTS", "HOTLINE_DIAL",
    "HOTLINE_DIAL_BACKUP", "HOTLINE_DIAL_TIMEOUT", "HOTLINE_QUEUE", "HOTLINE_QUEUE_RULE",
    "HOTLINE_MAX_PENALTY", "HOTLINE_MAX_WAIT", "HOTLINE_CALLBACK_PROMPT",
    "HOTLINE_LISTEN", "HOTLINE_SPEECH_ID", "HOTLINE_LISTEN_DIAL", "HOTLINE_LISTEN_S",
    "HOTLINE_LISTEN_LIMIT_MS", "HOTLINE_REC", "HOTLINE_REC_FILE", "HOTLINE_REC_FORMAT",
    "HOTLINE_REC_PROMPT",
)

_SPECIAL = frozenset('\\,"()[]|')


def escape(value: str) -> str:
    """One value as ``ARRAY()`` reads it back unchanged."""
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in value)


def unescape_fields(packed: str) -> list[str]:
    """The values again (the dialplan's split, for tests)."""
    fields: list[str] = []
    current: list[str] = []
    chars = iter(packed)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, ""))
        elif ch == ",":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
    fields.append("".join(current))
    return fields


def packed(variables: Mapping[str, str]) -> dict[str, str]:
    """``HOTLINE_DECISION``, any variable not in the packed set, then the kind, last."""
    rest = {k: v for k, v in variables.items() if k not in DECISION_FIELDS and k != KIND}
    return {PACKED: ",".join(escape(variables.get(name, "")) for name in DECISION_FIELDS),
            **rest, KIND: variables[KIND]}
