"""``hotline recordings status|list|export``: the call recordings (docs/quality.md)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.controller.settings import default_run_dir
from ivr.core.cli import CliError, load_config
from ivr.masking import mask_number

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def add_recordings(sub: SubParsers) -> None:
    """``hotline recordings …``."""
    parser = sub.add_parser("recordings", help="call recordings: disk, list, export")
    actions = parser.add_subparsers(dest="recordings_command", required=True)

    status = actions.add_parser("status", help="the store: disk usage, free space, counts")
    status.add_argument("--config", metavar="DIR")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)

    listing = actions.add_parser("list", help="recordings, newest first")
    listing.add_argument("--call", metavar="CALL_ID")
    listing.add_argument("--agent", metavar="ID", help="recordings where this agent took part")
    listing.add_argument("--since", metavar="ISO8601", help="started at or after (e.g. 2026-11-01)")
    listing.add_argument("--deleted", action="store_true", help="include deleted ones")
    listing.add_argument("--limit", type=int, default=100, metavar="N")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    export = actions.add_parser("export", help="copy a call's recordings and a JSON sidecar "
                                               "(its record, caller masked) into DIR; audited")
    export.add_argument("call_id", metavar="CALL")
    export.add_argument("directory", metavar="DIR", type=Path)
    export.add_argument("--by", metavar="WHO", help="who exports (default: the login name)")
    export.set_defaults(func=_export)


def _store() -> Any:
    from ivr.quality.store import DB_NAME, QualityStore

    return QualityStore(default_run_dir() / DB_NAME)


def _status(args: argparse.Namespace) -> int:
    rules = load_config(args.config).rules.recording
    store = Path(rules.store)
    counts: dict[str, dict[str, int]] = {"conversation": {"files": 0, "bytes": 0},
                                         "listening": {"files": 0, "bytes": 0}}
    oldest: float | None = None
    if store.is_dir():
        for path in store.rglob("*"):
            if path.is_file() and not path.is_symlink():
                info = path.stat()
                kind = "listening" if path.stem.endswith("-listen") else "conversation"
                counts[kind]["files"] += 1
                counts[kind]["bytes"] += info.st_size
                oldest = info.st_mtime if oldest is None else min(oldest, info.st_mtime)
    probe = store
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    disk = shutil.disk_usage(probe)
    free_mb = disk.free // (1024 * 1024)
    out = {
        "store": str(store), "exists": store.is_dir(), "enabled": rules.enabled,
        "format": rules.format.value, "free_mb": free_mb, "total_mb": disk.total // (1024 * 1024),
        "min_free_mb": rules.min_free_mb, "low_disk": free_mb < rules.min_free_mb,
        "retention_days": {"conversation": rules.retention.conversations,
                           "listening": rules.retention.listening},
        "counts": counts,
        "oldest": datetime.fromtimestamp(oldest, UTC).isoformat() if oldest else None,
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"store:     {out['store']}{'' if out['exists'] else ' (missing)'}  format {out['format']}"
          f"{'' if rules.enabled else '  (recording disabled)'}")
    print(f"disk:      {free_mb} MB free of {out['total_mb']} MB; threshold {rules.min_free_mb} MB"
          f"{'  LOW: new calls are not recorded' if out['low_disk'] else ''}")
    for kind, c in counts.items():
        print(f"{kind + ':':<14} {c['files']} files, {c['bytes'] / 1e6:.1f} MB, kept "
              f"{out['retention_days'][kind]} days")  # type: ignore[index]
    print(f"oldest:    {out['oldest'] or '-'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = _store().recordings(call_id=args.call, agent=args.agent, since=args.since,
                               deleted=args.deleted, limit=args.limit)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=2))
        return 0
    print(f"{'STARTED (UTC)':<26} {'DURATION':>8} {'SIZE':>9} {'KIND':<12} {'AGENT':<6} "
          f"{'CALL ID':<18} PATH")
    for r in rows:
        size = f"{(r.size_bytes or 0) / 1000:.0f} kB"
        gone = f"  deleted {r.deleted_at} ({r.deleted_reason})" if r.deleted_at else ""
        print(f"{(r.started_at or '-')[:26]:<26} {r.duration_s or 0:>7.1f}s {size:>9} "
              f"{r.kind:<12} {r.agent or '-':<6} {r.call_id:<18} {r.path}{gone}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ivr.core.callstore import CallStoreReader
    from ivr.quality.store import AuditEntry

    store = _store()
    rows = store.recordings(call_id=args.call_id)
    files = [r for r in rows if Path(r.path).is_file()]
    if not files:
        raise CliError(f"no recording of call {args.call_id}")
    record = CallStoreReader(default_run_dir() / "calls.db").get(args.call_id)
    directory: Path = args.directory
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    copied = []
    for rec in files:
        target = directory / Path(rec.path).name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out, open(rec.path, "rb") as src:
            shutil.copyfileobj(src, out)
        copied.append(str(target))
    by = args.by or os.environ.get("SUDO_USER") or getpass.getuser()
    now = datetime.now(UTC).isoformat()
    sidecar = {
        "call": {"call_id": args.call_id, "steps": _masked_steps(record.steps if record else [])},
        "recordings": [r.to_json() for r in files],
        "exported_at": now, "exported_by": by, "files": [Path(c).name for c in copied],
    }
    side = directory / f"{_safe(args.call_id)}.json"
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(sidecar, handle, ensure_ascii=False, indent=2)
    store.audit(AuditEntry(at=now, actor=by, action="export", subject=str(directory),
                           call_id=args.call_id, outcome="exported",
                           detail={"files": [r.path for r in files]}))
    for path in (*copied, str(side)):
        print(path)
    return 0


def _safe(call_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in call_id)


def _masked_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The call's steps with any caller field masked (the store keeps them masked already)."""
    out = []
    for step in steps:
        step = dict(step)
        for key in ("caller", "callerid", "caller_num"):
            value = step.get(key)
            if isinstance(value, str) and sum(ch.isdigit() for ch in value) >= 7 \
                    and "*" not in value:
                step[key] = mask_number(value)
        out.append(step)
    return out
