"""Call store benchmark: does a lookup stay fast after a million calls, and does
recording calls ever stall the event loop?

One SQLite store is filled (bulk inserts through the store's own schema, about 8
steps per call) to each size in turn, 10^4, 10^5 and 10^6 calls; at each size, with
the real :class:`CallStore` open (writer thread, WAL, synchronous=FULL):

* ``get()`` of one call: median and p95 over 200 random ids;
* ``calls(CallQuery(last=100))``: the newest 100 calls, oldest first;
* the ratio largest / smallest size for both (goal for ``get``: < 2).

Then, on the largest store, the real append path: 100 calls/s (x 8 steps) recorded
for ~10 s through ``append`` with a ``get()`` every 100 ms, while a 1 ms sleeper task
measures the event loop's lag (goal: longest stall < 20 ms); and a burst of 100k steps
(append cost on the loop, commit throughput).

Baseline: the former JSON-lines ``CallJournal.get`` (parses the whole file) at 10^4
calls, and 10^5 when that is projected under a minute; ratio new / old.

    .venv/bin/python bench/callstore_bench.py [--sizes 10000,100000,1000000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stats import summary  # noqa: E402
from ivr.core.callstore import CallQuery, CallStore, CallStoreReader  # noqa: E402
from ivr.core.callstore.bulk import bulk_load  # noqa: E402
from ivr.core.callstore.schema import Row  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CALL_SPACING_S = 3.0  # a million calls span about 35 days
NUMBERS = ["12345", "12366", "12360", "12333", "12315", "12369", "12358", "12338"]
STATUSES = ["ANSWER", "ANSWER", "ANSWER", "NOANSWER", "BUSY"]
DOMAINS = ["tax", "social_security", "housing", "general", "traffic"]


def call_id(i: int) -> str:
    """An Asterisk-like unique id."""
    return f"{1735689600 + i}.{i % 9973}"


def call_steps(i: int) -> list[tuple[str, float, dict[str, Any]]]:
    """The ~8 steps of call ``i``: (step, seconds after the call's start, fields)."""
    number = NUMBERS[i % len(NUMBERS)]
    domain = DOMAINS[i % len(DOMAINS)]
    queue = f"hl-{domain}"
    return [
        ("decided", 0.0, {"number": number, "caller": f"138****{i % 10000:04d}", "region": "sichuan",
                          "line": f"{number}-main", "mode": "main", "phase": "active",
                          "prompts": ["welcome", "recording_notice"], "target_kind": "queue",
                          "queue": "hl-general", "listening": True, "decision_ms": 0.41}),
        ("prompts_played", 2.5, {"prompts": ["welcome", "recording_notice"]}),
        ("listening", 2.6, {"budget_ms": 15000}),
        ("classified", 7.9, {"outcome": "classified", "budget_used_ms": 5300.0,
                             "classification": {"domain": domain, "request_type": "consultation",
                                                "confidence": 0.82, "emergency_number": None},
                             "target_kind": "queue", "queue": queue}),
        ("queued", 8.0, {"queue": queue, "position": 1 + i % 4}),
        ("ringing", 9.0, {"agent": f"100{1 + i % 8}", "queue": queue}),
        ("dial_result", 14.0, {"status": STATUSES[i % len(STATUSES)], "agent": f"100{1 + i % 8}"}),
        ("hangup", 95.0, {"cause": "16", "cause_txt": "Normal Clearing"}),
    ]


def rows(start: int, stop: int) -> Iterator[Row]:
    """Rows of calls ``start`` .. ``stop - 1``, built the way the store builds them."""
    for i in range(start, stop):
        cid = call_id(i)
        begin = T0 + timedelta(seconds=i * CALL_SPACING_S)
        for step, offset, data in call_steps(i):
            at = begin + timedelta(seconds=offset)
            decided = step == "decided"
            yield (cid, step, at.isoformat(), at.timestamp(),
                   json.dumps(data, ensure_ascii=False, sort_keys=True),
                   data["number"] if decided else None, data["caller"] if decided else None,
                   data["region"] if decided else None, None)


def fill(path: Path, start: int, stop: int) -> float:
    """Bulk-load calls ``start`` .. ``stop - 1``; seconds taken."""
    t0 = time.perf_counter()
    total = (stop - start) * 8

    def progress(done: int) -> None:
        rate = done / max(1e-9, time.perf_counter() - t0)
        print(f"\r  filling calls {start + done // 8:>9,}/{stop:,} ({rate:,.0f} steps/s)",
              end="", flush=True)

    assert bulk_load(path, rows(start, stop), progress=progress) == total
    print()
    return time.perf_counter() - t0


def ms(seconds: list[float]) -> dict[str, float]:
    return summary([s * 1000 for s in seconds])


async def measure_reads(path: Path, size: int, lookups: int, listings: int) -> dict[str, Any]:
    """``get()`` of random calls and ``calls(last=100)`` through an open store."""
    rng = random.Random(size)
    targets = [call_id(rng.randrange(size)) for _ in range(lookups)]
    async with CallStore(path) as store:
        await store.get(targets[0])  # warm the writer's connection
        gets: list[float] = []
        for target in targets:
            t0 = time.perf_counter()
            record = await store.get(target)
            gets.append(time.perf_counter() - t0)
            assert record is not None and len(record.steps) == 8, target
        lists: list[float] = []
        for _ in range(listings):
            t0 = time.perf_counter()
            newest = await store.calls(CallQuery(last=100))
            lists.append(time.perf_counter() - t0)
            assert len(newest) == 100 and newest[-1].call_id == call_id(size - 1)
    reader = CallStoreReader(path)
    reads: list[float] = []
    for target in targets[:50]:
        t0 = time.perf_counter()
        assert reader.get(target) is not None
        reads.append(time.perf_counter() - t0)
    return {"calls": size, "get_ms": ms(gets), "last100_ms": ms(lists),
            "reader_get_ms": ms(reads), "db_bytes": path.stat().st_size}


async def measure_live(path: Path, size: int, seconds: float, rate: int) -> dict[str, Any]:
    """Record ``rate`` calls/s through ``append`` with a get() every 100 ms; loop lag."""
    lags: list[float] = []
    stop = asyncio.Event()

    async def sleeper() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - t0 - 0.001)

    async with CallStore(path) as store:
        before = CallStoreReader(path).count()
        gets: list[float] = []
        appends: list[float] = []
        lag_task = asyncio.create_task(sleeper())
        await asyncio.sleep(0.2)
        lags.clear()  # only the loaded period counts

        async def reader() -> None:
            rng = random.Random(1)
            while not stop.is_set():
                t0 = time.perf_counter()
                await store.get(call_id(rng.randrange(size)))
                gets.append(time.perf_counter() - t0)
                await asyncio.sleep(0.1)

        read_task = asyncio.create_task(reader())
        calls = int(seconds * rate)
        t_start = time.perf_counter()
        for n in range(calls):
            i = size + n
            begin = datetime.now(UTC)
            t0 = time.perf_counter()
            for step, offset, data in call_steps(i):
                store.append(call_id(i), step, begin + timedelta(seconds=offset), **data)
            appends.append((time.perf_counter() - t0) / 8)
            if n % rate == 0:
                print(f"\r  live: {n:,}/{calls:,} calls recorded", end="", flush=True)
            await asyncio.sleep(max(0.0, t_start + (n + 1) / rate - time.perf_counter()))
        print()
        t0 = time.perf_counter()
        await store.flush()
        flush_s = time.perf_counter() - t0
        stop.set()
        await asyncio.gather(lag_task, read_task)
        recorded = CallStoreReader(path).count() - before
        assert recorded == calls, (recorded, calls)

        burst_n = 100_000
        t0 = time.perf_counter()
        for n in range(burst_n):
            store.append(f"burst-{n // 8}", "tick", T0, n=n)
        burst_append_s = time.perf_counter() - t0
        await store.flush()
        burst_total_s = time.perf_counter() - t0
    return {"calls_per_s": rate, "steps_per_s": rate * 8, "seconds": seconds,
            "calls_recorded": recorded, "loop_lag_ms": ms(lags), "get_under_load_ms": ms(gets),
            "append_us": summary([a * 1e6 for a in appends]), "final_flush_ms": flush_s * 1000,
            "burst_steps": burst_n, "burst_append_us_per_step": burst_append_s / burst_n * 1e6,
            "burst_committed_steps_per_s": burst_n / burst_total_s}


def measure_journal(directory: Path, size: int, lookups: int) -> dict[str, Any]:
    """The former journal: ``CallJournal.get`` reads the whole file every time."""
    from bench.jsonl_journal import CallJournal

    path = directory / f"calls-{size}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for cid, step, at, _, data, *_ in rows(0, size):
            line = {"call_id": cid, "step": step, "at": at, **json.loads(data)}
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    journal = CallJournal(path)
    rng = random.Random(size)
    times: list[float] = []
    for n in range(lookups):
        t0 = time.perf_counter()
        assert journal.get(call_id(rng.randrange(size))) is not None
        times.append(time.perf_counter() - t0)
        print(f"\r  journal at {size:,} calls: {n + 1}/{lookups} lookups", end="", flush=True)
    print()
    result = {"calls": size, "get_ms": ms(times), "file_bytes": path.stat().st_size}
    path.unlink()
    return result


async def main_async(args: argparse.Namespace) -> int:
    sizes = sorted(args.sizes)
    results: dict[str, Any] = {"sizes": sizes, "steps_per_call": 8, "store": [], "journal": []}
    with tempfile.TemporaryDirectory(prefix="bench-callstore-", dir=args.dir) as tmp:
        directory = Path(tmp)
        path = directory / "calls.db"
        filled = 0
        for size in sizes:
            print(f"{size:,} calls")
            fill_s = fill(path, filled, size)
            filled = size
            entry = await measure_reads(path, size, args.lookups, args.listings)
            entry["fill_s"] = fill_s
            results["store"].append(entry)
            print(f"  get median {entry['get_ms']['median']:.3f} ms p95 {entry['get_ms']['p95']:.3f}; "
                  f"last 100 median {entry['last100_ms']['median']:.2f} ms; "
                  f"db {entry['db_bytes'] / 2**20:,.0f} MiB")
        print(f"live recording on the {filled:,}-call store")
        results["live"] = await measure_live(path, filled, args.live_seconds, args.rate)

        journal_size = sizes[0] if args.quick else 10_000
        for size in (journal_size, 10 * journal_size):
            if results["journal"]:
                per_get = results["journal"][-1]["get_ms"]["median"] / 1000
                projected = per_get * 10 * args.journal_lookups + per_get * 2
                if projected > 60:
                    print(f"  journal at {size:,} calls skipped (projected {projected:.0f} s)")
                    break
            results["journal"].append(measure_journal(directory, size, args.journal_lookups))

    store = {e["calls"]: e for e in results["store"]}
    small, large = store[sizes[0]], store[sizes[-1]]
    results["get_ratio_largest_smallest"] = large["get_ms"]["median"] / small["get_ms"]["median"]
    results["get_p95_ratio_largest_smallest"] = large["get_ms"]["p95"] / small["get_ms"]["p95"]
    results["last100_ratio_largest_smallest"] = (large["last100_ms"]["median"]
                                                 / small["last100_ms"]["median"])
    baseline = []
    for old in results["journal"]:
        new = store.get(old["calls"])
        if new is not None:
            baseline.append({"calls": old["calls"], "journal_get_ms": old["get_ms"]["median"],
                             "store_get_ms": new["get_ms"]["median"],
                             "ratio_new_old": new["get_ms"]["median"] / old["get_ms"]["median"]})
    results["baseline"] = baseline
    live = results["live"]
    results["goals"] = {"get_ratio_below_2": results["get_ratio_largest_smallest"] < 2,
                        "loop_stall_below_20ms": live["loop_lag_ms"]["max"] < 20}

    print()
    print(f"{'calls':>10} {'get med':>9} {'get p95':>9} {'last100 med':>12} {'last100 p95':>12} "
          f"{'reader get':>11} {'fill s':>7}")
    for e in results["store"]:
        print(f"{e['calls']:>10,} {e['get_ms']['median']:>8.3f}m {e['get_ms']['p95']:>8.3f}m "
              f"{e['last100_ms']['median']:>11.2f}m {e['last100_ms']['p95']:>11.2f}m "
              f"{e['reader_get_ms']['median']:>10.3f}m {e['fill_s']:>7.1f}")
    print(f"ratio {sizes[-1]:,}/{sizes[0]:,}: get median {results['get_ratio_largest_smallest']:.2f} "
          f"(goal < 2), get p95 {results['get_p95_ratio_largest_smallest']:.2f}, "
          f"last 100 {results['last100_ratio_largest_smallest']:.2f}")
    for b in baseline:
        print(f"journal get at {b['calls']:,} calls: {b['journal_get_ms']:.1f} ms vs store "
              f"{b['store_get_ms']:.3f} ms: new/old {b['ratio_new_old']:.5f}")
    print(f"live {live['calls_per_s']} calls/s x 8 steps for {live['seconds']:.0f} s: loop lag max "
          f"{live['loop_lag_ms']['max']:.2f} ms (goal < 20), p95 {live['loop_lag_ms']['p95']:.2f} ms; "
          f"get under load median {live['get_under_load_ms']['median']:.3f} ms; append "
          f"{live['append_us']['median']:.1f} us/step; burst {live['burst_committed_steps_per_s']:,.0f} "
          f"committed steps/s")
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "callstore.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out / 'callstore.json'}")
    return 0 if all(results["goals"].values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda text: [int(float(s)) for s in text.split(",")],
                        default=[10_000, 100_000, 1_000_000],
                        help="comma-separated call counts (default 10000,100000,1000000)")
    parser.add_argument("--quick", action="store_true", help="sizes 1000,10000; a shorter live run")
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--listings", type=int, default=30)
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=100, help="calls per second in the live run")
    parser.add_argument("--journal-lookups", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where the temporary store goes (default $TMPDIR)")
    args = parser.parse_args()
    if args.quick:
        args.sizes = [1_000, 10_000]
        args.live_seconds = min(args.live_seconds, 3.0)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
