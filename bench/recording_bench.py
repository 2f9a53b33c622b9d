"""Recording benchmark: what MixMonitor costs Asterisk, and how many recorded calls it holds.

For each concurrency N (``--levels``, in order), N callers dial the sandbox at once (one
SIPp process placing N calls); each sends ``--seconds`` + 1 s of a 560 Hz tone as RTP (a
pcap played by SIPp) and the sub-center peer answers and hangs up after ``--seconds``.
Twice per level: straight (``static-dial``) and recorded exactly as ``[hotline-rec]`` records (``static-rec``:
MixMonitor ``b`` into ``<recording store>/bench/``, GSM).  No controller is in the path:
the difference is Asterisk's own work.

Reported per level: Asterisk CPU (utime+stime from /proc, in % of one core) for both
runs, the extra CPU per recorded call, the write rate per recorded call (bytes/s on
disk), and the audio in each file against the bridged time (answer to hangup, from the
AMI events): a file is "whole" when it holds at least 95 % of it.  The highest N where
every file is whole is the number of simultaneous recorded calls held with no lost audio;
the run stops at the first level where a file is not whole or a call is not answered
(``--all`` goes on), so the default steps find the ceiling of the machine it runs on.

    .venv/bin/python bench/recording_bench.py [--levels 10,20,40,60,80,100,150,200,300,400,600] [--seconds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hotline_sandbox import api  # noqa: E402
from hotline_sandbox.state import SandboxState  # noqa: E402
from ivr.ami.client import AmiSettings, connect  # noqa: E402
from ivr.config.engine import load_engine_config  # noqa: E402
from ivr.quality.recording import audio_seconds  # noqa: E402
from testkit.pcap import write_rtp_pcap  # noqa: E402
from testkit.rtp import tone  # noqa: E402
from testkit.sipp import SCENARIOS, SippPeer, answering_peer, sipp_binary  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """utime + stime of the process and its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def callers_at_once(exten: str, trace_dir: Path, pcm: bytes, n: int,
                    timeout_s: int) -> SippPeer:
    """One SIPp process placing ``n`` calls at once (``-l n -r n``), each saying ``pcm``
    once answered (``speech_caller.xml``) and waiting for the far end's BYE."""
    trace_dir.mkdir(parents=True, exist_ok=True)
    write_rtp_pcap(pcm, trace_dir / "speech.pcap")
    args = ["127.0.0.1:5060", "-sf", str(SCENARIOS / "speech_caller.xml"), "-s", exten,
            "-key", "caller", "13800000000", "-i", "127.0.0.1", "-p", str(free_udp_port()),
            "-mp", str(free_udp_port()), "-m", str(n), "-l", str(n), "-r", str(n),
            "-rp", "1000", "-timeout", f"{timeout_s}s", "-timeout_error", "-recv_timeout",
            f"{timeout_s * 1000}", "-trace_err", "-nostdin"]
    process = subprocess.Popen([sipp_binary(), *args], cwd=trace_dir, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return SippPeer(f"callers-{exten}-{n}", process, trace_dir)


def free_udp_port() -> int:
    """A UDP port nobody holds now (SIPp's own signalling and media ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def one_level(state: SandboxState, n: int, seconds: float, recorded: bool, tmp: Path,
                    store: Path) -> dict[str, float | int]:
    exten = "static-rec" if recorded else "static-dial"
    pcm = tone(560.0, (seconds + 1.0) * 1000).tobytes()
    sub = answering_peer(state.peer_ports["subcenters"], tmp, calls=n,
                         scenario="agent_answer_hangup.xml", hold_ms=int(seconds * 1000),
                         timeout_s=int(seconds) + 60, name=f"sub-{exten}-{n}")
    settings = AmiSettings(state.ami_host, state.ami_port, state.ami_user, state.ami_secret)
    answered: dict[str, float] = {}
    ended: dict[str, float] = {}
    async with connect(settings) as ami:
        async def pump() -> None:
            async for event in ami.events():
                uid = event.get("Uniqueid")
                if event.event == "DialEnd" and event.get("DialStatus") == "ANSWER":
                    answered[uid] = time.monotonic()
                elif event.event == "Hangup" and event.get("Channel").startswith("PJSIP/trunk-"):
                    ended[uid] = time.monotonic()

        task = asyncio.create_task(pump())
        await asyncio.sleep(0.3)
        before = cpu_s(state.pid)
        t0 = time.monotonic()
        callers = callers_at_once(exten, tmp / f"{exten}-{n}", pcm, n, int(seconds) + 60)
        await asyncio.to_thread(callers.wait, seconds + 90)
        await asyncio.sleep(1.0)
        wall = time.monotonic() - t0
        cpu = cpu_s(state.pid) - before
        task.cancel()
    sub.stop()
    out: dict[str, float | int] = {"calls": n, "wall_s": round(wall, 2),
                                   "asterisk_cpu_s": round(cpu, 3),
                                   "asterisk_cpu_pct_core": round(100 * cpu / wall, 1),
                                   "answered": len(answered)}
    if recorded:
        files = {p.stem: p for p in (store / "bench").glob("*.gsm")}
        whole = 0
        ratios = []
        size = 0
        bridged_total = 0.0
        for uid, t_answer in answered.items():
            path = files.get(uid)
            bridged = ended.get(uid, t_answer) - t_answer
            bridged_total += bridged
            if path is None:
                ratios.append(0.0)
                continue
            size += path.stat().st_size
            got = audio_seconds(path.stat().st_size, "gsm")
            ratios.append(got / bridged if bridged > 0 else 0.0)
            whole += got >= 0.95 * bridged
        out.update({"files": len(files), "whole": whole,
                    "audio_over_bridged_min": round(min(ratios), 3) if ratios else 0.0,
                    "audio_over_bridged_median": round(float(np.median(ratios)), 3)
                    if ratios else 0.0,
                    "write_bytes_per_s_per_call": round(size / bridged_total, 1)
                    if bridged_total else 0.0})
        shutil.rmtree(store / "bench", ignore_errors=True)
    return out


async def main_async(args: argparse.Namespace) -> int:
    state = api.up()
    api.asterisk_cli("channel request hangup all")
    store = Path(load_engine_config(REPO).rules.recording.store)
    tmp = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    results: list[dict[str, object]] = []
    held = 0
    for n in args.levels:
        if held != (results[-1]["calls"] if results else 0) and not args.all:
            break  # the previous level lost audio or calls: that is the ceiling
        base = await one_level(state, n, args.seconds, False, tmp, store)
        await asyncio.sleep(1.0)
        rec = await one_level(state, n, args.seconds, True, tmp, store)
        await asyncio.sleep(1.0)
        extra = (float(rec["asterisk_cpu_s"]) - float(base["asterisk_cpu_s"]))
        per_call_pct = 100 * extra / (n * args.seconds) if n else 0.0
        row = {"calls": n, "baseline": base, "recorded": rec,
               "extra_cpu_pct_core_per_recorded_call": round(per_call_pct, 3)}
        results.append(row)
        if rec["whole"] == n and rec["answered"] == n:
            held = n
        print(f"N={n:4d}: asterisk CPU {base['asterisk_cpu_pct_core']:5.1f}% -> "
              f"{rec['asterisk_cpu_pct_core']:5.1f}% of a core; extra per recorded call "
              f"{per_call_pct:.3f}% of a core; write {rec['write_bytes_per_s_per_call']} B/s "
              f"per call; whole files {rec['whole']}/{n} (audio/bridged min "
              f"{rec['audio_over_bridged_min']}, median {rec['audio_over_bridged_median']})",
              flush=True)
    failed = next((r["calls"] for r in results if r["calls"] != held and
                   int(str(r["calls"])) > held), None)
    summary = {"seconds_per_call": args.seconds, "levels": results,
               "first_level_with_loss": failed,
               "max_simultaneous_recorded_calls_without_loss": held,
               "cpu_count": os.cpu_count()}
    print(f"held with no lost audio: {held} simultaneous recorded calls; first level with "
          f"loss: {failed or 'none reached'} ({os.cpu_count()} CPUs)")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "recording.json").write_text(json.dumps(summary, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")],
                        default=[10, 20, 40, 60, 80, 100, 150, 200, 300, 400, 600])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--all", action="store_true",
                        help="run every level, not only up to the first one with a loss")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
