"""The call store: SQLite, one writer thread, read-your-writes, queries, legacy import,
retention, retried writes, and ``hotline calls`` on top of it."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ivr.cli.main import main
from ivr.core.callstore import CallQuery, CallRecord, CallStore, CallStoreReader
from ivr.core.callstore import writer as writer_module
from ivr.core.events import CallDecided
from ivr.core.rundir import RunDirError

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CALLER = "138****8000"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CallStore]:
    async with CallStore(tmp_path / "run" / "calls.db", retention_days=30) as opened:
        yield opened


def add_call(store: CallStore, call_id: str, at: datetime, number: str = "12345",
             steps: int = 3) -> None:
    """A call: decided, then ``steps - 2`` dial results, then hangup, a second apart."""
    store.append(call_id, "decided", at, number=number, caller=CALLER, region="sichuan",
                 mode="main", phase="active", target_kind="queue", prompts=["welcome"])
    for i in range(steps - 2):
        store.append(call_id, "dial_result", at + timedelta(seconds=1 + i), status="ANSWER")
    store.append(call_id, "hangup", at + timedelta(seconds=steps - 1), cause="16")


def ids(records: Sequence[CallRecord]) -> list[str]:
    return [r.call_id for r in records]


# -- writing and reading back ---------------------------------------------------------


async def test_a_step_reads_back_exactly_like_a_journal_line(store: CallStore) -> None:
    store.append("c1", "decided", T0, number="12366", caller=CALLER, prompts=["a", "b"])
    record = await store.get("c1")  # no flush: read-your-writes
    assert record is not None
    assert record.steps == [{"at": T0.isoformat(), "call_id": "c1", "caller": CALLER,
                             "number": "12366", "prompts": ["a", "b"], "step": "decided"}]
    assert list(record.steps[0]) == sorted(record.steps[0])  # keys sorted, like json sort_keys
    assert await store.get("nope") is None


async def test_read_your_writes_across_many_appends(store: CallStore) -> None:
    for i in range(500):
        store.append("busy", "tick", T0 + timedelta(milliseconds=i), n=i)
        if i % 97 == 0:
            record = await store.get("busy")
            assert record is not None and len(record.steps) == i + 1
    record = await store.get("busy")
    assert record is not None and [s["n"] for s in record.steps] == list(range(500))


async def test_record_takes_typed_events(store: CallStore) -> None:
    store.record(CallDecided(at=T0, call_id="ev", data={"number": "12345", "caller": CALLER}))
    record = await store.get("ev")
    assert record is not None and record.summary["number"] == "12345"
    assert record.steps[0]["step"] == "decided"


async def test_summary_is_the_journal_summary(store: CallStore) -> None:
    add_call(store, "c1", T0, steps=4)
    store.append("c1", "fallback", T0 + timedelta(seconds=9))
    record = await store.get("c1")
    assert record is not None
    assert record.summary == {"call_id": "c1", "at": T0.isoformat(), "number": "12345",
                              "caller": CALLER, "mode": "main", "phase": "active",
                              "prompts": ["welcome"], "target": "queue", "fallback": True,
                              "dial_status": "ANSWER", "hangup_cause": "16"}


async def test_steps_stay_in_append_order(store: CallStore) -> None:
    store.append("c", "decided", T0 + timedelta(seconds=5))
    store.append("c", "late_event_with_earlier_clock", T0)
    record = await store.get("c")
    assert record is not None
    assert [s["step"] for s in record.steps] == ["decided", "late_event_with_earlier_clock"]


# -- queries --------------------------------------------------------------------------


@pytest.fixture
async def ten_calls(store: CallStore) -> CallStore:
    """c0..c9 a minute apart; odd ones to 12366; appended newest first."""
    for i in reversed(range(10)):
        add_call(store, f"c{i}", T0 + timedelta(minutes=i), number="12366" if i % 2 else "12345")
    return store


async def test_calls_are_listed_by_first_step_time(ten_calls: CallStore) -> None:
    assert ids(await ten_calls.calls(CallQuery())) == [f"c{i}" for i in range(10)]


async def test_since_until_number(ten_calls: CallStore) -> None:
    window = CallQuery(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=5))
    assert ids(await ten_calls.calls(window)) == ["c2", "c3", "c4"]  # since inclusive, until not
    assert ids(await ten_calls.calls(CallQuery(number="12366"))) == ["c1", "c3", "c5", "c7", "c9"]
    both = CallQuery(number="12345", since=T0 + timedelta(minutes=3))
    assert ids(await ten_calls.calls(both)) == ["c4", "c6", "c8"]
    assert await ten_calls.calls(CallQuery(number="110")) == []


async def test_last_is_the_newest_still_oldest_first(ten_calls: CallStore) -> None:
    assert ids(await ten_calls.calls(CallQuery(last=3))) == ["c7", "c8", "c9"]
    assert ids(await ten_calls.calls(CallQuery(last=3, offset=3))) == ["c4", "c5", "c6"]
    assert ids(await ten_calls.calls(CallQuery(last=2, number="12345"))) == ["c6", "c8"]
    assert ids(await ten_calls.calls(CallQuery(last=50))) == [f"c{i}" for i in range(10)]


async def test_limit_and_offset_page_from_the_oldest(ten_calls: CallStore) -> None:
    assert ids(await ten_calls.calls(CallQuery(limit=4))) == ["c0", "c1", "c2", "c3"]
    assert ids(await ten_calls.calls(CallQuery(limit=4, offset=8))) == ["c8", "c9"]
    assert ids(ten_calls.calls_blocking(CallQuery(limit=2, offset=1))) == ["c1", "c2"]
    first = (await ten_calls.calls(CallQuery(limit=1)))[0]
    assert len(first.steps) == 3


async def test_a_later_step_with_an_earlier_time_moves_the_call(store: CallStore) -> None:
    add_call(store, "a", T0 + timedelta(minutes=1))
    add_call(store, "b", T0 + timedelta(minutes=2))
    store.append("b", "note", T0)  # b's earliest step is now before a's
    assert ids(await store.calls(CallQuery())) == ["b", "a"]


def test_a_query_refuses_negative_numbers() -> None:
    with pytest.raises(ValueError):
        CallQuery(limit=-1)
    with pytest.raises(ValueError):
        CallQuery(last=-3)


# -- durability, files ----------------------------------------------------------------


async def test_committed_steps_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    first = CallStore(path)
    first.open()
    first.open()  # idempotent
    add_call(first, "kept", T0)
    await first.flush()
    assert CallStoreReader(path).get("kept") is not None  # another connection sees it: committed
    add_call(first, "queued-at-close", T0 + timedelta(minutes=1))
    first.close()
    first.close()  # idempotent
    async with CallStore(path) as again:
        assert ids(await again.calls(CallQuery())) == ["kept", "queued-at-close"]
        again.append("kept", "callback_requested", T0 + timedelta(minutes=5))
    record = CallStoreReader(path).get("kept")
    assert record is not None and record.steps[-1]["step"] == "callback_requested"


async def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "run" / "calls.db"
    async with CallStore(path) as store:
        add_call(store, "c", T0)
        await store.flush()
        for name in ("calls.db", "calls.db-wal", "calls.db-shm"):
            assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_the_database_is_wal_and_has_the_indexes(store: CallStore) -> None:
    add_call(store, "c", T0)
    await store.flush()
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        plan = " ".join(str(row) for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT call_id FROM calls WHERE first_at >= 0 ORDER BY first_at LIMIT 5"))
    finally:
        conn.close()
    assert {"steps_call", "calls_first_at", "calls_number", "calls_last_at"} <= indexes
    assert "USING INDEX calls_first_at" in plan


# -- blocking twins, reader -----------------------------------------------------------


def test_blocking_reads_open_and_closed(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    store = CallStore(path)
    assert store.get_blocking("c") is None  # closed, no file: nothing
    store.open()
    add_call(store, "c", T0)
    record = store.get_blocking("c")  # open: through the writer, read-your-writes
    assert record is not None and len(record.steps) == 3
    store.close()
    assert ids(store.calls_blocking(CallQuery())) == ["c"]  # closed: a read-only connection


async def test_async_reads_of_a_closed_store_use_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    async with CallStore(path) as store:
        add_call(store, "c", T0)
    assert (await store.get("c")) is not None
    assert ids(await store.calls(CallQuery())) == ["c"]
    await store.flush()  # nothing to flush: returns


def test_a_reader_of_a_missing_store_reads_nothing(tmp_path: Path) -> None:
    for path in (tmp_path / "calls.db", tmp_path / "no" / "such" / "dir" / "calls.db"):
        reader = CallStoreReader(path)
        assert reader.get("x") is None
        assert reader.calls(CallQuery()) == []
        assert list(reader.records()) == []
        assert reader.count() == 0
    (tmp_path / "empty.db").touch()  # created, no tables yet
    empty = CallStoreReader(tmp_path / "empty.db")
    assert empty.count() == 0 and list(empty.records()) == [] and empty.get("x") is None


async def test_the_reader_streams_every_call_oldest_first(store: CallStore) -> None:
    for i in reversed(range(1200)):  # more than one chunk
        store.append(f"r{i:04d}", "decided", T0 + timedelta(seconds=i), number="12345")
    await store.flush()
    reader = CallStoreReader(store.path)
    records = list(reader.records())
    assert [r.call_id for r in records] == [f"r{i:04d}" for i in range(1200)]
    assert reader.count() == 1200
    with pytest.raises(sqlite3.OperationalError):  # read-only: mode=ro
        conn = sqlite3.connect(f"{store.path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("DELETE FROM calls")
        finally:
            conn.close()


# -- legacy journal -------------------------------------------------------------------


def journal_line(call_id: str, step: str, at: datetime, **data: Any) -> bytes:
    return (json.dumps({"call_id": call_id, "step": step, "at": at.isoformat(), **data},
                       ensure_ascii=False, sort_keys=True) + "\n").encode()


def write_journal(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [journal_line("old1", "decided", T0, number="12366", caller=CALLER, region="sichuan"),
             journal_line("old1", "hangup", T0 + timedelta(seconds=30), cause="16"),
             "一个GBK编码的行\n".encode("gbk"),  # line 3: not UTF-8
             journal_line("old2", "decided", T0 + timedelta(minutes=1), number="12345"),
             b"\n",
             journal_line("old2", "hangup", T0 + timedelta(minutes=2), cause="16"),
             journal_line("old3", "decided", T0 + timedelta(minutes=3))[:25]]  # torn by a crash
    path.write_bytes(b"".join(lines))


async def test_the_legacy_journal_is_imported_once(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    run = tmp_path / "run"
    legacy = run / "calls.jsonl"
    write_journal(legacy)
    caplog.set_level(logging.WARNING, logger="ivr.core.callstore")
    async with CallStore(run / "calls.db", legacy_journal=legacy) as store:
        records = await store.calls(CallQuery())
        assert ids(records) == ["old1", "old2"]
        assert records[0].steps[0] == {"at": T0.isoformat(), "call_id": "old1", "caller": CALLER,
                                       "number": "12366", "region": "sichuan", "step": "decided"}
        assert ids(await store.calls(CallQuery(number="12345"))) == ["old2"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert str(legacy) in message and "line 3" in message and "skipped 2" in message
    assert not legacy.exists() and (run / "calls.jsonl.imported").exists()

    async with CallStore(run / "calls.db", legacy_journal=legacy) as again:  # nothing to import
        assert len(await again.calls(CallQuery())) == 2
        record = await again.get("old1")
        assert record is not None and len(record.steps) == 2


async def test_a_crash_between_import_and_rename_does_not_import_twice(tmp_path: Path) -> None:
    legacy = tmp_path / "calls.jsonl"
    write_journal(legacy)
    async with CallStore(tmp_path / "calls.db", legacy_journal=legacy):
        pass
    shutil.copy2(tmp_path / "calls.jsonl.imported", legacy)  # as if the rename never happened
    async with CallStore(tmp_path / "calls.db", legacy_journal=legacy) as store:
        record = await store.get("old2")
        assert record is not None and len(record.steps) == 2
    assert not legacy.exists()


async def test_steps_appended_before_open_follow_the_import(tmp_path: Path) -> None:
    legacy = tmp_path / "calls.jsonl"
    write_journal(legacy)
    store = CallStore(tmp_path / "calls.db", legacy_journal=legacy)
    store.append("old1", "note", T0 + timedelta(hours=1))
    async with store:
        record = await store.get("old1")
    assert record is not None and [s["step"] for s in record.steps] == ["decided", "hangup", "note"]


# -- retention ------------------------------------------------------------------------


async def test_expire_deletes_calls_whose_last_step_is_too_old(store: CallStore) -> None:
    now = T0 + timedelta(days=60)
    add_call(store, "old", T0)
    add_call(store, "recent", now - timedelta(days=10))
    add_call(store, "old-but-alive", T0)
    store.append("old-but-alive", "callback_requested", now - timedelta(days=1))
    assert await store.expire(now) == 1
    assert await store.get("old") is None
    assert ids(await store.calls(CallQuery())) == ["old-but-alive", "recent"]
    assert await store.expire(now) == 0
    assert CallStoreReader(store.path).count() == 2


async def test_expire_without_retention_keeps_everything(tmp_path: Path) -> None:
    async with CallStore(tmp_path / "calls.db") as store:
        add_call(store, "old", T0 - timedelta(days=3650))
        assert await store.expire(T0) == 0
        assert await store.get("old") is not None


async def test_expire_while_steps_are_appended(store: CallStore) -> None:
    now = T0 + timedelta(days=60)
    for i in range(1500):
        add_call(store, f"old{i}", T0)
    done = threading.Event()

    def appender() -> None:
        for i in range(3000):
            store.append(f"new{i % 300}", "tick", now, n=i)
        done.set()

    thread = threading.Thread(target=appender)
    thread.start()
    store.append("old7", "hangup", now)  # an old call that just got a step
    deleted = await store.expire(now)
    thread.join()
    assert done.is_set()
    assert deleted == 1499
    await store.flush()
    reader = CallStoreReader(store.path)
    assert reader.count() == 301
    assert sum(len(r.steps) for r in reader.records()) == 3000 + 4
    kept = await store.get("old7")
    assert kept is not None and len(kept.steps) == 4


# -- failures -------------------------------------------------------------------------


async def test_a_failed_write_is_retried_and_nothing_is_lost(
        store: CallStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real = writer_module.insert_rows
    failures = [sqlite3.OperationalError("database or disk is full")]

    def flaky(conn: sqlite3.Connection, rows: Sequence[Any]) -> None:
        if failures:
            real(conn, rows[:1])  # half-written, then the disk fills up
            raise failures.pop()
        real(conn, rows)

    monkeypatch.setattr(writer_module, "insert_rows", flaky)
    caplog.set_level(logging.ERROR, logger="ivr.core.callstore")
    for i in range(5):
        add_call(store, f"c{i}", T0 + timedelta(minutes=i))
    await asyncio.wait_for(store.flush(), 10)
    assert not failures
    assert any("disk is full" in r.getMessage() for r in caplog.records)
    reader = CallStoreReader(store.path)
    assert reader.count() == 5
    assert sum(len(r.steps) for r in reader.records()) == 15  # each once: the half write rolled back
    assert store.dropped == 0


async def test_an_unwritable_database_drops_the_oldest_past_the_bound(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = writer_module.insert_rows
    broken = threading.Event()
    broken.set()

    def failing(conn: sqlite3.Connection, rows: Sequence[Any]) -> None:
        if broken.is_set():
            raise sqlite3.OperationalError("disk I/O error")
        real(conn, rows)

    monkeypatch.setattr(writer_module, "insert_rows", failing)
    async with CallStore(tmp_path / "calls.db", max_pending=100) as store:
        for i in range(150):
            store.append(f"c{i:03d}", "decided", T0 + timedelta(seconds=i))
        assert (await store.get("c149")) is None  # not written, not visible, no exception
        broken.clear()
        await asyncio.wait_for(store.flush(), 20)
        kept = ids(await store.calls(CallQuery(limit=1000)))
        assert store.dropped == 50
    assert kept == [f"c{i:03d}" for i in range(50, 150)]


async def test_a_dead_writer_never_makes_append_raise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def explode(self: writer_module.Writer) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(writer_module.Writer, "_loop", explode)
    store = CallStore(tmp_path / "calls.db")
    store.open()
    for _ in range(100):
        if store._writer is None or not store._writer.is_alive():
            break
        await asyncio.sleep(0.01)
    store.append("c", "decided", T0)  # must not raise
    assert store.dropped == 1
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    assert await store.get("c") is None  # reads fall back to the file
    await store.flush()
    store.close()


def test_a_store_that_cannot_open_raises_at_open_only(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    path.mkdir()  # a directory where the file should be
    store = CallStore(path)
    store.append("c", "decided", T0)
    with pytest.raises(RunDirError, match="not a regular file"):
        store.open()
    store.append("c", "hangup", T0)
    store.close()


def test_append_does_not_block_on_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = writer_module.insert_rows
    gate = threading.Event()

    def slow(conn: sqlite3.Connection, rows: Sequence[Any]) -> None:
        gate.wait(10)  # the disk hangs
        real(conn, rows)

    monkeypatch.setattr(writer_module, "insert_rows", slow)
    store = CallStore(tmp_path / "calls.db")
    store.open()
    for i in range(1000):
        store.append(f"c{i}", "decided", T0)  # returns at once although nothing is written
    assert CallStoreReader(store.path).count() == 0
    gate.set()
    store.close()
    assert CallStoreReader(store.path).count() == 1000


# -- hotline calls --------------------------------------------------------------------


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_RUN_DIR", str(tmp_path))
    store = CallStore(tmp_path / "calls.db")
    store.open()
    for i in range(30):
        add_call(store, f"c{i:02d}", T0 + timedelta(days=i // 10, minutes=i),
                 number="12366" if i % 3 == 0 else "12345")
    store.close()
    return tmp_path


def test_hotline_calls_lists_the_last_20(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 20
    at = (T0 + timedelta(days=2, minutes=29)).isoformat()
    assert lines[-1] == f"{at} c29 12345 {CALLER} main/active -> queue ANSWER"
    assert lines[0].split()[1] == "c10"


def test_hotline_calls_pages_and_filters(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "--last", "5", "--page", "2"]) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == [
        "c20", "c21", "c22", "c23", "c24"]
    assert main(["calls", "--number", "12366", "--json", "--last", "3"]) == 0
    summaries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [s["call_id"] for s in summaries] == ["c21", "c24", "c27"]
    assert {s["number"] for s in summaries} == {"12366"}
    assert main(["calls", "--since", "2026-11-24", "--until", "2026-11-24"]) == 0  # that one day
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == [
        f"c{i}" for i in range(10, 20)]
    assert main(["calls", "--since", "2026-11-25T17:26:00+08:00"]) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == [
        "c26", "c27", "c28", "c29"]


def test_hotline_calls_shows_one_call(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "c05"]) == 0
    steps = json.loads(capsys.readouterr().out)
    assert [s["step"] for s in steps] == ["decided", "dial_result", "hangup"]
    assert main(["calls", "nope"]) == 1
    assert "no call nope" in capsys.readouterr().err


def test_hotline_calls_without_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOTLINE_RUN_DIR", str(tmp_path / "fresh"))
    assert main(["calls"]) == 0
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "fresh").exists()  # reading creates nothing


def test_hotline_calls_imports_no_heavy_module() -> None:
    import subprocess
    import sys

    code = ("import sys; from ivr.cli.calls import add_calls; "
            "print(','.join(m for m in ('pydantic', 'yaml', 'ivr.catalogue', 'ivr.calls', "
            "'ivr.routing.decision', 'agent_pool', 'asyncio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ}, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == ""
