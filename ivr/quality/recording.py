"""Call recording: whether a call is recorded (planner), what the file holds (tracker),
how long it is kept (retention) and whether the disk has room (disk guard).

The controller decides and Asterisk records: the route decision carries ``HOTLINE_REC=1``
and the file's name; the dialplan starts MixMonitor on the caller's channel
(``[hotline-rec]``), which writes only while the caller is bridged with a person, both
directions, until the caller hangs up.  The controller then describes the file in the
call store (``recording_started`` at the answer, ``recording`` after the hangup, with
duration, size and parties) and in the recordings index (``quality.db``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ivr.calls.service import RouteAddition
from ivr.clock import Clock
from ivr.config.engine import EngineConfig
from ivr.core.events import CallEvent, Event, RecordingDiskLow, StepRecorder
from ivr.masking import mask_number
from ivr.quality.settings import FORMAT_RATES, RecordingFormat, RecordingRules
from ivr.quality.store import AuditEntry, QualityStore, Recording
from ivr.routing.decision import CallFacts, Decision

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LISTEN_SUFFIX = "-listen"
_SAFE_ID = re.compile(r"[^0-9A-Za-z._-]")
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(;\d)?$")


def file_base(rules: RecordingRules, call_id: str) -> str:
    """``<store>/<YYYYMMDD>/<call id>`` (no extension): the date is the call's, from its
    Asterisk unique id (epoch seconds), in Asia/Shanghai."""
    safe = _SAFE_ID.sub("_", call_id) or "call"
    try:
        epoch = float(call_id.split(".", 1)[0])
        day = datetime.fromtimestamp(epoch, LOCAL_TZ).strftime("%Y%m%d")
    except (ValueError, OverflowError, OSError):
        day = "undated"
    return f"{rules.store}/{day}/{safe}"


def audio_seconds(size: int, fmt: str) -> float:
    """The audio length of a file of ``size`` bytes in format ``fmt``."""
    try:
        rate, header = FORMAT_RATES[RecordingFormat(fmt)]
    except ValueError:
        return 0.0
    return round(max(0, size - header) / rate, 2)


def kind_of(path: Path) -> str:
    """``listening`` for a listening segment, else ``conversation``."""
    return "listening" if path.stem.endswith(LISTEN_SUFFIX) else "conversation"


def party_name(channel: str) -> str:
    """``PJSIP/agent-1001-0000002a`` -> ``PJSIP/agent-1001``."""
    return _CHANNEL_SUFFIX.sub("", channel)


class DiskGuard:
    """Whether the store has room for new recordings; refreshed by a task, read for free."""

    def __init__(self) -> None:
        self.low = False
        self.free_mb: int | None = None

    def check(self, rules: RecordingRules) -> tuple[bool, int]:
        """Measure now; returns ``(changed, free_mb)``."""
        path = Path(rules.store)
        while not path.exists() and path != path.parent:
            path = path.parent
        free_mb = shutil.disk_usage(path).free // (1024 * 1024)
        low = free_mb < rules.min_free_mb
        changed = low != self.low
        self.low, self.free_mb = low, free_mb
        return changed, free_mb


@dataclass
class _Call:
    base: str
    fmt: str
    caller_masked: str | None
    line: str
    skill: str | None
    parties: list[str] = field(default_factory=list)
    agent: str | None = None
    started_at: datetime | None = None


class RecordingService:
    """Planner (in the route decision), tracker (call steps) and retention."""

    def __init__(self, config: Callable[[], EngineConfig], clock: Clock, steps: StepRecorder,
                 store: QualityStore, sound: Callable[[str], str],
                 publish: Callable[[Event], None]) -> None:
        self._config = config
        self._clock = clock
        self._steps = steps
        self._store = store
        self._sound = sound
        self._publish = publish
        self.disk = DiskGuard()
        self._calls: dict[str, _Call] = {}
        self._unrecorded: OrderedDict[str, None] = OrderedDict()  # decided here, not recorded

    # --- the decision ---------------------------------------------------------------------

    def plan(self, decision: Decision, facts: CallFacts, call_id: str) -> RouteAddition:
        """The recording variables of a new call (no I/O: the disk state is the task's)."""
        rules = self._config().rules.recording
        reason = self._skip_reason(rules, decision)
        prompt = (self._sound(rules.disclosure.prompt)
                  if decision.region in rules.disclosure.regions else "")
        if reason is not None:
            if reason != "disabled":
                self._after_decided(call_id, "recording_skipped", reason=reason)
            self._unrecorded[call_id] = None
            if len(self._unrecorded) > 50_000:  # calls whose hangup was never seen
                self._unrecorded.popitem(last=False)
            return RouteAddition(variables={"HOTLINE_REC": "0", "HOTLINE_REC_PROMPT": ""})
        base = file_base(rules, call_id)
        self._calls[call_id] = _Call(
            base=base, fmt=rules.format.value, caller_masked=decision.caller_masked,
            line=decision.line.number, skill=decision.target.skill,
            parties=[f"caller:{decision.caller_masked or '-'}"])
        if len(self._calls) > 50_000:  # calls whose hangup was never seen
            self._calls.pop(next(iter(self._calls)))
        return RouteAddition(variables={
            "HOTLINE_REC": "1", "HOTLINE_REC_FILE": base, "HOTLINE_REC_FORMAT": rules.format.value,
            "HOTLINE_REC_PROMPT": prompt})

    def _after_decided(self, call_id: str, step: str, **data: Any) -> None:
        """A step of the call after its ``decided`` step (written just after the planner)."""
        now = self._clock.now()
        try:
            asyncio.get_running_loop().call_soon(
                lambda: self._steps.append(call_id, step, now, **data))
        except RuntimeError:  # no loop (tests, dry runs)
            self._steps.append(call_id, step, now, **data)

    def _skip_reason(self, rules: RecordingRules, decision: Decision) -> str | None:
        if not rules.enabled:
            return "disabled"
        if decision.target.kind.value == "hangup":
            return "no_person"
        if decision.number in rules.exclude.lines or decision.line.number in rules.exclude.lines:
            return "excluded_line"
        if decision.target.skill and decision.target.skill in rules.exclude.skills:
            return "excluded_skill"
        if self.disk.low:
            return "low_disk"
        return None

    # --- the call's steps -----------------------------------------------------------------

    def on_step(self, event: CallEvent, spawn: Callable[[Any, str], None]) -> None:
        """Inline subscriber: answers start the recording's description, the hangup ends it."""
        call = self._calls.get(event.call_id)
        step, data = event.step, event.data
        if step == "hangup":
            self._calls.pop(event.call_id, None)
            if event.call_id in self._unrecorded:
                del self._unrecorded[event.call_id]
            elif call is not None or self._config().rules.recording.enabled:
                # a recorded call, or one decided before this controller started (its file,
                # if any, is looked for off the loop)
                spawn(self.finish(event.call_id, call, event.at), f"recording-{event.call_id}")
            return
        if call is None:
            return
        party: str | None = None
        if step == "answered":
            party = f"agent:{data.get('agent') or party_name(str(data.get('interface') or ''))}"
            call.agent = str(data.get("agent") or "") or call.agent
        elif step == "dial_result" and data.get("status") == "ANSWER":
            dest = str(data.get("dest") or "")
            if dest.startswith("AudioSocket/"):
                return  # the listening leg, not a person
            party = party_name(dest)
            agent = self._config().roster.by_interface(party)
            if agent is not None:  # the queue's dial to an agent's phone
                party = f"agent:{agent.id}"
                call.agent = agent.id
        elif step == "transfer_answered":
            party = f"transfer:{data.get('target')}"
        if party is None:
            return
        if party not in call.parties:
            call.parties.append(party)
        if call.started_at is None:
            call.started_at = event.at
            self._steps.append(event.call_id, "recording_started", event.at,
                               path=f"{call.base}.{call.fmt}", format=call.fmt,
                               parties=list(call.parties))

    async def finish(self, call_id: str, call: _Call | None, ended: datetime) -> None:
        """After the caller hung up: wait for MixMonitor to close the files, make them 0600,
        describe them (call store, index) or drop an empty one of a call nobody answered."""
        if call is None:
            rules = self._config().rules.recording
            call = _Call(base=file_base(rules, call_id), fmt=rules.format.value,
                         caller_masked=None, line="", skill=None)
        for kind, path in (("conversation", Path(f"{call.base}.{call.fmt}")),
                           ("listening", Path(f"{call.base}{LISTEN_SUFFIX}.{call.fmt}"))):
            size = await _settled_size(path)
            if size is None:
                continue
            seconds = audio_seconds(size, call.fmt)
            if seconds < 0.1:  # nobody answered, or no audio came: nothing to keep
                await asyncio.to_thread(_unlink, path)
                if call.started_at is not None:
                    self._steps.append(call_id, "recording_empty", self._clock.now(),
                                       kind=kind, parties=list(call.parties))
                continue
            await asyncio.to_thread(_private, path)
            rec = Recording(
                path=str(path), call_id=call_id, kind=kind, format=call.fmt,
                started_at=(call.started_at or ended).isoformat(), ended_at=ended.isoformat(),
                duration_s=seconds, size_bytes=size, parties=list(call.parties),
                agent=call.agent, line=call.line, skill=call.skill,
                caller_masked=call.caller_masked)
            await asyncio.to_thread(self._store.upsert, rec)
            self._steps.append(call_id, "recording", self._clock.now(), path=str(path), kind=kind,
                               format=call.fmt, started=rec.started_at, ended=rec.ended_at,
                               duration_s=seconds, size_bytes=size, parties=rec.parties)

    # --- retention and disk ---------------------------------------------------------------

    def sweep(self, now_s: float | None = None) -> list[AuditEntry]:
        """Delete expired recordings (blocking: run it in a thread); each deletion is
        recorded in the index, the call store and the audit trail."""
        rules = self._config().rules.recording
        now_s = time.time() if now_s is None else now_s
        store = Path(rules.store)
        if not store.is_dir():
            return []
        keep = {"conversation": rules.retention.conversations * 86400,
                "listening": rules.retention.listening * 86400}
        done: list[AuditEntry] = []
        for day in sorted(store.iterdir()):
            if not day.is_dir() or day.is_symlink() or day.name == "bench":
                continue
            with os.scandir(day) as entries:  # one stat per file, cached by the entry
                files = [(Path(e.path), e.stat(follow_symlinks=False).st_mtime)
                         for e in entries if e.is_file(follow_symlinks=False)]
            for path, mtime in sorted(files):
                kind = kind_of(path)
                age = now_s - mtime
                if age <= keep[kind]:
                    continue
                done.append(self._delete(path, kind, age))
            with _quiet():
                day.rmdir()  # only when empty
        return done

    def _delete(self, path: Path, kind: str, age_s: float) -> AuditEntry:
        call_id = path.stem.removesuffix(LISTEN_SUFFIX)
        now = self._clock.now()
        size = path.stat().st_size
        path.unlink()
        self._store.mark_deleted(str(path), call_id, kind, now.isoformat(), "retention")
        entry = self._store.audit(AuditEntry(
            at=now.isoformat(), actor="retention", action="retention_delete", subject=str(path),
            call_id=call_id, outcome="deleted",
            detail={"kind": kind, "age_days": round(age_s / 86400, 2), "size_bytes": size}))
        self._steps.append(call_id, "recording_deleted", now, path=str(path), kind=kind,
                           reason="retention", age_days=round(age_s / 86400, 2))
        log.info("recording %s (%s) deleted after %.1f days (retention)", path, kind,
                 age_s / 86400)
        return entry

    def check_disk(self) -> None:
        """Refresh the disk guard; warn (log, event) when it flips."""
        rules = self._config().rules.recording
        changed, free_mb = self.disk.check(rules)
        if not changed:
            return
        if self.disk.low:
            log.warning("recordings store %s: %d MB free, under recording.min_free_mb=%d: new "
                        "calls are not recorded (they still connect)", rules.store, free_mb,
                        rules.min_free_mb)
        else:
            log.warning("recordings store %s: %d MB free again: recording new calls",
                        rules.store, free_mb)
        self._publish(RecordingDiskLow(at=self._clock.now(), low=self.disk.low, free_mb=free_mb,
                                       threshold_mb=rules.min_free_mb, store=rules.store))


def mask_caller(value: str | None) -> str | None:
    """A caller number as it may leave the engine."""
    return mask_number(value) if value else value


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


async def _settled_size(path: Path, timeout_s: float = 5.0) -> int | None:
    """The file's size once it stops growing (MixMonitor closes it just after the hangup);
    None when there is no file."""
    deadline = time.monotonic() + timeout_s
    last: int | None = -1
    missing = False
    while True:
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            size = None
        if size == last and (size is not None or missing):
            return size
        missing = size is None
        if time.monotonic() >= deadline:
            return size
        last = size
        await asyncio.sleep(0.3)


def _private(path: Path) -> None:
    os.chmod(path, 0o600)


def _unlink(path: Path) -> None:
    with _quiet():
        path.unlink()


def utc_now() -> datetime:
    return datetime.now(UTC)
