"""JSON payloads: what the hotline publishes and what departments may send back.

Every published payload carries ``schema`` (:data:`SCHEMA_VERSION`) and ``at`` (ISO 8601
with offset). No payload ever holds a whole phone or ID number: every string passes
:func:`scrub` (runs of 7+ digits are masked the way :func:`ivr.masking.mask_number` does),
except the identifiers the engine itself makes (call ids, transfer ids, work-order ids).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.core.events import (
    AgentStateChanged,
    AuditRecorded,
    CallEvent,
    FollowUpClosed,
    FollowUpOpened,
    RecordingDiskLow,
    TaskRestarted,
)
from ivr.masking import mask_number, mask_numbers_in_text
from ivr.workorders.model import WorkOrder

SCHEMA_VERSION = 1
_LONG_DIGITS = re.compile(r"\d{7}")
#: values the engine generates; never a caller's number (a call id is Asterisk's uniqueid)
ENGINE_IDS = frozenset({"call_id", "transfer", "speech_id", "workorder", "id", "order_id", "at",
                        "created_at", "schema"})
#: call-step fields never published: where a recording lies on disk (call data; the call id
#: names the recording) and the caller's number (published masked, in the context)
UNPUBLISHED = frozenset({"caller", "path"})
#: audit actions whose subject is a file path of call data (the deleted or exported file)
_AUDIT_PATH_SUBJECT = frozenset({"retention_delete", "export"})
#: audit detail fields never published (the exported files' paths)
_AUDIT_UNPUBLISHED = frozenset({"files", "path"})
#: fields of a call's context, taken from its ``decided`` and later steps
CONTEXT_FIELDS = ("caller", "line", "line_name", "region", "mode", "phase", "skill",
                  "classification", "outcome")


def scrub(value: Any, key: str = "") -> Any:
    """``value`` with every run of 7+ digits masked, recursively (engine ids kept)."""
    if isinstance(value, str):
        if key in ENGINE_IDS or not _LONG_DIGITS.search(value):
            return value
        return mask_numbers_in_text(value)
    if isinstance(value, Mapping):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, key) for v in value]
    return value


def _encoder() -> Callable[[Any], str]:
    """Compact JSON, non-ASCII kept: ``json.dumps(..., ensure_ascii=False,
    separators=(",", ":"), default=str)``, built once (``json.dumps`` with arguments builds an encoder on
    every call); C's encoder kept and reused where there is one."""
    python = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str,
                              check_circular=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return python.encode
    chunks = make(None, str, json.encoder.encode_basestring, None, ":", ",", False, False,
                  True)
    join = "".join

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return python.encode(value)
        return join(chunks(value, 0))

    return encode


_encode = _encoder()
_quote = json.encoder.encode_basestring  # a str as JSON, non-ASCII kept
_SCALARS = (int, float, bool, type(None))


def dumps(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON."""
    return _encode(payload).encode()


def masked_caller(raw: Any) -> str | None:
    """A caller field as published: already masked by routing; masked again if it is not."""
    if not raw:
        return None
    text = str(raw)
    return mask_number(text) if _LONG_DIGITS.search(text) else text


#: the steps :func:`update_context` may change a context on (every other step leaves it as is)
CONTEXT_STEPS = frozenset({"decided", "classified", "speech_routed", "queue_result",
                           "dial_result", "answered", "fallback", "hangup"})


def update_context(context: dict[str, Any], event: CallEvent) -> None:
    """Fold one step into a call's context (line, mode, phase, skill, classification, outcome)."""
    data = event.data
    step = event.step
    if step == "decided":
        context.update(caller=masked_caller(data.get("caller")), line=data.get("number"),
                       line_name=data.get("line_name"), region=data.get("region"),
                       mode=data.get("mode"), phase=data.get("phase"), skill=data.get("skill"))
    elif step == "classified":
        classification = data.get("classification")
        if isinstance(classification, Mapping):
            context["classification"] = {k: classification.get(k) for k in
                                         ("domain", "request_type", "urgency", "confidence")
                                         if k in classification}
            if classification.get("domain"):
                context.setdefault("skill", classification.get("domain"))
    elif step == "speech_routed" and data.get("skill"):
        context["skill"] = data.get("skill")
    elif step in ("queue_result", "dial_result"):
        context["outcome"] = data.get("status")
    elif step == "answered":
        context["outcome"] = "answered"
    elif step == "fallback":
        context["outcome"] = "fallback"
    elif step == "hangup" and not context.get("outcome"):
        context["outcome"] = "abandoned"


def context_from_steps(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """A call's context rebuilt from its recorded steps (the call store's record)."""
    from ivr.core.events import call_event

    context: dict[str, Any] = {}
    for entry in steps:
        data = {k: v for k, v in entry.items() if k not in ("step", "at", "call_id")}
        update_context(context, call_event(str(entry.get("step")), "", datetime.now(), data))
    return context


def call_payload(event: CallEvent, context: Mapping[str, Any]) -> dict[str, Any]:
    """One call event as published on ``.../call/<call-id>/<event>``."""
    payload: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "event": event.step,
        "at": event.at.isoformat(),
        "call_id": event.call_id,
    }
    for name in CONTEXT_FIELDS:
        payload[name] = context.get(name)
    payload["caller"] = masked_caller(payload["caller"])
    payload["data"] = scrub({k: v for k, v in event.data.items() if k not in UNPUBLISHED})
    return payload


def context_json(context: Mapping[str, Any]) -> str:
    """The context fields of a call payload, serialized once per change of the call's
    context: ``"caller":…,"line":…,…,"outcome":…`` (what :func:`call_payload` puts between
    ``call_id`` and ``data``)."""
    fields = {name: context.get(name) for name in CONTEXT_FIELDS}
    fields["caller"] = masked_caller(fields["caller"])
    return _encode(fields)[1:-1]


def call_payload_json(event: CallEvent, context: str) -> bytes:
    """``dumps(call_payload(event, ctx))`` byte for byte, from ``context = context_json(ctx)``:
    the publisher's hot path (no payload dict, the context serialized once per change, and
    :func:`scrub`'s work done inline for plain strings)."""
    data: dict[Any, Any] = {}
    for key, value in event.data.items():
        if key in UNPUBLISHED:
            continue
        if type(value) is str:  # the common case, as scrub() does it
            if key not in ENGINE_IDS and _LONG_DIGITS.search(value):
                value = mask_numbers_in_text(value)
        elif type(value) not in _SCALARS:
            value = scrub(value, str(key))
        data[key] = value
    return (f'{{"schema":{SCHEMA_VERSION},"event":{_quote(event.step)},'
            f'"at":"{event.at.isoformat()}","call_id":{_quote(event.call_id)},{context},'
            f'"data":{_encode(data)}}}').encode()


def agent_payload(event: AgentStateChanged) -> dict[str, Any]:
    """An agent's state, retained on ``.../agent/<id>/state``."""
    return {"schema": SCHEMA_VERSION, "at": event.at.isoformat(), "agent_id": event.agent_id,
            "state": event.state, "previous": event.previous, "reason": event.reason}


def task_payload(event: TaskRestarted) -> dict[str, Any]:
    """A supervised task of the controller restarted."""
    return {"schema": SCHEMA_VERSION, "at": event.at.isoformat(), "task": event.task,
            "error": scrub(event.error), "restarts": event.restarts}


def followup_payload(event: FollowUpOpened | FollowUpClosed) -> dict[str, Any]:
    """A follow-up opened (``status`` open, with ``due``) or closed (``status`` done, with
    the scrubbed ``note``), on ``.../followup/<group>/<id>``."""
    body: dict[str, Any] = {"schema": SCHEMA_VERSION, "at": event.at.isoformat(),
                            "id": event.followup_id, "call_id": event.call_id,
                            "group": event.group}
    if isinstance(event, FollowUpOpened):
        body.update(status="open", agent=event.agent, level=event.level, due=event.due)
    else:
        body.update(status="done", note=scrub(event.note), by=event.by)
    return body


def disk_payload(event: RecordingDiskLow) -> dict[str, Any]:
    """The recordings store's low-disk state, retained on ``.../recording/disk``: ``low``
    true stops recording new calls (they still connect)."""
    return {"schema": SCHEMA_VERSION, "at": event.at.isoformat(), "low": event.low,
            "free_mb": event.free_mb, "threshold_mb": event.threshold_mb}


def audit_payload(event: AuditRecorded) -> dict[str, Any]:
    """An audit entry on ``.../audit/<action>``: who did what to whom, on which call, in
    which mode (a switch: ``detail.from_mode`` / ``to_mode``), when.  File paths of call
    data are left out (a deletion's or export's subject, the exported files): the call id
    says which call; numbers are scrubbed."""
    entry = event.entry
    action = str(entry.get("action") or "")
    detail = entry.get("detail") or {}
    body: dict[str, Any] = {
        "schema": SCHEMA_VERSION, "at": entry.get("at") or event.at.isoformat(),
        "id": entry.get("id"), "action": action, "actor": scrub(entry.get("actor")),
        "subject": None if action in _AUDIT_PATH_SUBJECT else scrub(entry.get("subject")),
        "call_id": entry.get("call_id") or None, "mode": entry.get("mode") or None,
        "started_at": entry.get("started_at") or None,
        "ended_at": entry.get("ended_at") or None, "outcome": entry.get("outcome") or None,
        "detail": scrub({k: v for k, v in detail.items() if k not in _AUDIT_UNPUBLISHED})
        if isinstance(detail, Mapping) else {},
    }
    return body


def status_payload(online: bool, at: datetime, client_id: str) -> dict[str, Any]:
    """The retained node status (the last will says ``offline``)."""
    return {"schema": SCHEMA_VERSION, "at": at.isoformat(), "status": "online" if online else "offline",
            "client_id": client_id}


def workorder_payload(order: WorkOrder, department: str, attempt: int,
                      at: datetime) -> dict[str, Any]:
    """A work order for its department (``attempt`` counts deliveries, 1 the first)."""
    body = order.to_json()
    body.pop("history", None)
    body["department_name"] = body.pop("department", None)
    return {"schema": SCHEMA_VERSION, "at": at.isoformat(), **scrub(body),
            "department": department, "attempt": attempt}


def escalation_payload(order: WorkOrder, department: str, attempts: int, since: datetime,
                       at: datetime) -> dict[str, Any]:
    """An order nobody acknowledged within ``delivery.escalate_after_s``."""
    return {"schema": SCHEMA_VERSION, "at": at.isoformat(), "id": order.id, "department": department,
            "call_id": order.call_id, "target": order.target, "status": str(order.status),
            "attempts": attempts, "unacknowledged_since": since.isoformat(),
            "summary": scrub(order.summary)}


def reply_payload(order_id: str, kind: str, ok: bool, reason: str, at: datetime,
                  status: str | None = None) -> dict[str, Any]:
    """The hotline's answer to a department's ack or status update."""
    return {"schema": SCHEMA_VERSION, "at": at.isoformat(), "id": order_id, "in_reply_to": kind,
            "ok": ok, "reason": reason, "status": status}


class DepartmentStatus(StrEnum):
    """What a department may say about an order it acknowledged."""

    ACCEPTED = "accepted"
    RETURNED = "returned"
    RESOLVED = "resolved"


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class Ack(_Inbound):
    """``{"id": "WO-20251123-0001", "by": "张三"}`` on ``department/<dept>/ack``."""

    id: str = Field(min_length=1, max_length=64)
    by: str = Field(min_length=1, max_length=64)


class StatusUpdate(_Inbound):
    """``{"id": …, "status": "returned", "by": …, "reason": "不属于本单位职责"}``."""

    id: str = Field(min_length=1, max_length=64)
    status: DepartmentStatus
    by: str = Field(min_length=1, max_length=64)
    reason: str = Field("", max_length=500)


class BadMessage(ValueError):
    """A department's message that is not JSON or not the expected shape."""


def parse_inbound(kind: str, raw: bytes) -> Ack | StatusUpdate:
    """An ack or a status update; :class:`BadMessage` says what is wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    model: type[Ack] | type[StatusUpdate] = Ack if kind == "ack" else StatusUpdate
    try:
        message = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise BadMessage(f"{where}: {first['msg']}") from None
    if isinstance(message, StatusUpdate):
        check_returned_reason(message)
    return message


def check_returned_reason(update: StatusUpdate) -> None:
    """A returned order must say why."""
    if update.status is DepartmentStatus.RETURNED and not update.reason:
        raise BadMessage("reason: a returned order needs a reason")
