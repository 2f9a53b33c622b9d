"""One call's record reduced to the facts the reports count (pure: no I/O).

Definitions (docs/operations.md):

- *offered*: the call has a routing decision (``decided``);
- *queued*: it joined an ACD queue (``queued``); *answered*: an agent took it
  (``answered``); its *wait* is the ``answered`` step's ``hold_s``, else the time from
  the first ``queued`` to ``answered``;
- *connected*: a person took the call: an agent, or a dialled target that answered
  (``dial_result`` ANSWER: a sub-center, kept seats, an emergency service, the fallback desk);
- *abandoned*: queued, never answered, and the caller hung up while waiting (a
  ``queue_result`` ABANDON, or a ``hangup`` with no ``queue_result`` after the last
  ``queued``); its wait is until that moment.  A call answered, then back in a queue
  (a failed transfer) and abandoned there is *requeued then abandoned*, not abandoned;
- *talk*: first ``answered`` to ``hangup``;
- *transfers*: each ``transfer_*`` id's last outcome (``transfer_failed``'s outcome,
  else answered / cancelled / error / pending); *work orders*: ``transfer_failed`` steps
  with a ``workorder``;
- *pre-classified on speech*: a ``classified`` step with a specific domain (not
  ``general``) or an emergency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: QUEUESTATUS values that mean the caller left the queue by hanging up
ABANDON_STATUSES = frozenset({"ABANDON"})


@dataclass(frozen=True)
class CallFacts:
    """What one call contributes to the KPIs."""

    call_id: str
    start: datetime
    offered: bool = False
    number: str | None = None
    region: str | None = None
    mode: str | None = None
    phase: str | None = None
    line_name: str | None = None
    skill: str | None = None
    queue: str | None = None
    agent: str | None = None
    queued: bool = False
    answered: bool = False
    wait_s: float | None = None
    connected: bool = False
    abandoned: bool = False
    abandon_wait_s: float | None = None
    requeue_abandoned: bool = False
    talk_s: float | None = None
    fallback: bool = False
    callback_requested: bool = False
    listened: bool = False
    pre_classified: bool = False
    transfers: tuple[str, ...] = ()
    workorders: int = 0
    surveyed: bool = False  # the caller heard the post-call rating prompt (ivr/ratings)
    rating: int | None = None  # 1 非常满意 … 5 非常不满意; None: not rated (or not surveyed)
    callbacks_made: int = 0  # callback attempts dialled for this call (ivr/callbacks)
    callback_connected: bool = False  # one of them reached the caller and an agent
    extra: Mapping[str, Any] = field(default_factory=dict)


def _at(step: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(step["at"]))


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def _transfer_outcomes(steps: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, ...], int]:
    """Each transfer's outcome, in the order they were requested, and the work orders filed."""
    outcome: dict[str, str] = {}
    orders = 0
    for step in steps:
        name = str(step["step"])
        if not name.startswith("transfer_"):
            continue
        tid = str(step.get("transfer") or "?")
        current = outcome.setdefault(tid, "pending")
        if name == "transfer_failed":
            outcome[tid] = str(step.get("outcome") or "failed")
            if step.get("workorder"):
                orders += 1
        elif name == "transfer_answered" and current == "pending":
            outcome[tid] = "answered"
        elif name == "transfer_cancelled" and current in ("pending", "answered"):
            outcome[tid] = "cancelled"
        elif name == "transfer_error" and current == "pending":
            outcome[tid] = "error"
    return tuple(outcome.values()), orders


def _pre_classified(step: Mapping[str, Any] | None) -> bool:
    if step is None:
        return False
    heard = step.get("classification") or {}
    return bool(heard) and (heard.get("domain") not in (None, "general")
                            or bool(heard.get("emergency_number")))


def _skill(queued: Mapping[str, Any] | None, classified: Mapping[str, Any] | None,
           decided: Mapping[str, Any]) -> str | None:
    """The skill whose queue the call went to (``hl-<skill>``), else the decision's skill."""
    queue = str((queued or {}).get("queue") or "")
    if queue.startswith("hl-"):
        return queue[3:]
    skill = (classified or {}).get("skill") or decided.get("skill")
    return str(skill) if skill else None


def _rating(step: Mapping[str, Any] | None) -> int | None:
    level = (step or {}).get("level")
    return level if isinstance(level, int) and 1 <= level <= 5 else None


def facts_of(call_id: str, steps: Sequence[Mapping[str, Any]]) -> CallFacts | None:
    """The facts of one call from its steps (oldest first); None for a call without steps."""
    if not steps:
        return None
    first: dict[str, Mapping[str, Any]] = {}
    for step in steps:
        first.setdefault(str(step["step"]), step)
    decided = first.get("decided")
    queued = first.get("queued")
    answered = first.get("answered")
    hangup = first.get("hangup")
    wait_s: float | None = None
    if answered is not None:
        hold = answered.get("hold_s")
        if isinstance(hold, int | float):
            wait_s = float(hold)
        elif queued is not None:
            wait_s = _seconds(_at(answered), _at(queued))
    # How the last queue stint ended: answered, a queue_result, or the caller hanging up.
    abandoned = requeue_abandoned = False
    abandon_wait_s: float | None = None
    stint: Mapping[str, Any] | None = None
    stint_answered = False
    stint_end: tuple[str, Mapping[str, Any]] | None = None
    for step in steps:
        name = step["step"]
        if name == "queued":
            stint, stint_answered, stint_end = step, False, None
        elif stint is None or stint_end is not None:
            continue
        elif name == "answered":
            stint_answered = True
        elif name == "queue_result":
            stint_end = ("result", step)
        elif name == "hangup":
            stint_end = ("hangup", step)
    if stint is not None and not stint_answered and stint_end is not None:
        kind, end = stint_end
        left = kind == "hangup" or str(end.get("status", "")).upper() in ABANDON_STATUSES
        if left:
            if answered is None:
                abandoned = True
                abandon_wait_s = _seconds(_at(end), _at(stint))
            else:
                requeue_abandoned = True
    dial_answered = any(s["step"] == "dial_result" and s.get("status") == "ANSWER" for s in steps)
    transfers, orders = _transfer_outcomes(steps)
    decided = decided or {}
    return CallFacts(
        call_id=call_id,
        start=_at(steps[0]),
        offered=bool(decided),
        number=decided.get("number"),
        region=decided.get("region"),
        mode=decided.get("mode"),
        phase=decided.get("phase"),
        line_name=decided.get("line_name"),
        skill=_skill(queued, first.get("classified"), decided),
        queue=(queued or {}).get("queue"),
        agent=(answered or {}).get("agent"),
        queued=queued is not None,
        answered=answered is not None,
        wait_s=wait_s,
        connected=answered is not None or dial_answered,
        abandoned=abandoned,
        abandon_wait_s=abandon_wait_s,
        requeue_abandoned=requeue_abandoned,
        # the conversation ends when the agent leaves: at the rating prompt if there is one
        talk_s=(_seconds(_at(first.get("survey_started") or hangup), _at(answered))
                if answered and hangup else None),
        fallback="fallback" in first,
        callback_requested="callback_requested" in first,
        listened=bool(decided.get("listening")),
        pre_classified=_pre_classified(first.get("classified")),
        transfers=transfers,
        workorders=orders,
        surveyed="survey_started" in first or "rated" in first,
        rating=_rating(first.get("rated")),
        callbacks_made=sum(1 for s in steps if s["step"] == "callback_dialled"),
        callback_connected=any(s["step"] == "callback_outcome" and s.get("outcome") == "connected"
                               for s in steps),
    )
