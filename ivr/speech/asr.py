"""Streaming speech recognition with Vosk, off the event loop.

One :class:`SpeechModel` is loaded at start-up and shared by every call; each call
opens its own :class:`AsrStream` (a ``KaldiRecognizer``) whose decoding runs in the
:class:`AsrEngine`'s thread pool, so a slow decode never blocks the event loop or
another call's stream. Vosk's C calls release the GIL, so threads decode in parallel
and the model (hundreds of MB) is not copied per worker as a process pool would.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

# vosk and the resampler (numpy) are imported where a model is loaded or a call decoded:
# `hotline check` only inspects the model directory.

log = logging.getLogger(__name__)

#: Audio that AudioSocket delivers.
INPUT_RATE = 8000

# Kaldi binary objects start with "\0B"; OpenFst files with this little-endian magic.
_KALDI_MAGIC = b"\x00B"
_FST_MAGIC = bytes.fromhex("d6fdb27e")
_REQUIRED = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")
_STATIC_GRAPH = ("graph/HCLG.fst",)
_DYNAMIC_GRAPH = ("graph/HCLr.fst", "graph/Gr.fst")


class ModelError(Exception):
    """The Vosk model is missing or broken; the message names the path."""


@dataclass(frozen=True)
class AsrConfig:
    """Recognition knobs (``model_path`` None means no pre-classification)."""

    model_path: Path | None = None
    recognizer_rate: int = INPUT_RATE  # a multiple of 8000: >8000 resamples with numpy first
    workers: int = 2  # threads decoding in parallel (each busy one uses a core)
    grammar: tuple[str, ...] = ()  # phrase list for keyword spotting; empty = free-form
    grammar_unknown: bool = True  # add "[unk]" so speech outside the grammar is not forced in
    words: bool = True  # word timings and confidences in final results


@dataclass(frozen=True)
class AsrResult:
    """A partial (still changing) or final transcript."""

    text: str
    final: bool
    confidence: float | None = None  # mean word confidence of a final result
    words: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SpeechModel:
    """A loaded Vosk model and where it came from."""

    path: Path
    model: Any  # vosk.Model (untyped)
    dynamic_graph: bool  # HCLr.fst + Gr.fst: grammars work; HCLG.fst models ignore them

    @property
    def has_unknown_word(self) -> bool:
        """Whether the vocabulary has ``[unk]`` (keeps speech outside a grammar out of it)."""
        finder = getattr(self.model, "vosk_model_find_word", None)
        return finder is None or bool(finder("[unk]") >= 0)


def _check_file(path: Path, magic: bytes | None) -> str | None:
    if not path.is_file():
        return f"missing {path.name}"
    try:
        with path.open("rb") as fh:
            head = fh.read(max(len(magic or b""), 1))
    except OSError as exc:
        return f"cannot read {path.name}: {exc.strerror}"
    if not head:
        return f"{path.name} is empty"
    if magic and not head.startswith(magic):
        return f"{path.name} is not a model file (a Git LFS pointer, an HTML page or truncated?)"
    return None


def check_model_dir(path: Path) -> list[str]:
    """What is wrong with a Vosk model directory (empty when it looks complete)."""
    if not path.exists():
        return ["the directory does not exist"]
    if not path.is_dir():
        return ["not a directory"]
    problems = []
    for rel in _REQUIRED:
        magic = _KALDI_MAGIC if rel.endswith(".mdl") else None
        problem = _check_file(path / rel, magic)
        if problem:
            problems.append(f"{rel}: {problem}")
    static = (path / _STATIC_GRAPH[0]).exists()
    dynamic = any((path / rel).exists() for rel in _DYNAMIC_GRAPH)
    graph = _STATIC_GRAPH if static and not dynamic else _DYNAMIC_GRAPH
    if not static and not dynamic:
        problems.append("graph/: neither HCLG.fst nor HCLr.fst + Gr.fst")
    else:
        for rel in graph:
            problem = _check_file(path / rel, _FST_MAGIC)
            if problem:
                problems.append(f"{rel}: {problem}")
    return problems


def load_model(path: Path | str, log_level: int = -1) -> SpeechModel:
    """Load a Vosk model once; raise :class:`ModelError` naming ``path`` on any problem.

    The directory is checked before Vosk sees it: Kaldi logs at length and may crash
    on files that are absent or not what they claim to be. ``log_level`` is Vosk's
    (``-1`` quiet, ``0`` info).
    """
    path = Path(path).expanduser()
    problems = check_model_dir(path)
    if problems:
        raise ModelError(f"Vosk model at {path} is unusable: " + "; ".join(problems))
    import vosk

    import ivr.speech.resample  # noqa: F401 - loaded with the model, not on a call's first decode

    vosk.SetLogLevel(log_level)
    try:
        model = vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelError(f"Vosk could not load the model at {path}: {exc}") from exc
    dynamic = all((path / rel).is_file() for rel in _DYNAMIC_GRAPH)
    log.info("Vosk model loaded from %s (%s graph)", path, "dynamic" if dynamic else "static")
    return SpeechModel(path=path, model=model, dynamic_graph=dynamic)


def split_vocabulary(model: SpeechModel, phrases: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(usable, unknown)``: phrases whose every word the model knows, and the rest.

    Vosk drops unknown grammar words itself, but logs a warning for each one on every
    recogniser it builds (once per call); check the list once at start-up instead.
    """
    usable: list[str] = []
    unknown: list[str] = []
    for phrase in dict.fromkeys(phrases):
        words = phrase.split()
        known = bool(words) and all(model.model.vosk_model_find_word(w) >= 0 for w in words)
        (usable if known else unknown).append(phrase)
    return usable, unknown


class Decoder(Protocol):
    """A blocking, single-call recogniser (Vosk's, or a fake in tests)."""

    def accept(self, pcm: bytes) -> AsrResult | None:
        """Consume 8 kHz 16-bit mono audio; return a partial or segment-final result, if any."""

    def finish(self) -> AsrResult:
        """Flush and return the final transcript of everything accepted."""


def _final(raw: str) -> AsrResult:
    data = json.loads(raw)
    words = data.get("result") or []
    confs = [float(w["conf"]) for w in words if "conf" in w]
    return AsrResult(
        text=str(data.get("text", "")).strip(), final=True,
        confidence=sum(confs) / len(confs) if confs else None,
        words=tuple(str(w["word"]) for w in words),
    )


class VoskDecoder:
    """A ``KaldiRecognizer`` for one call; accumulates segment finals into one transcript."""

    def __init__(self, model: SpeechModel, config: AsrConfig, grammar: Sequence[str] = ()) -> None:
        import vosk

        from ivr.speech.resample import Upsampler

        self._upsampler = Upsampler(INPUT_RATE, config.recognizer_rate)
        phrases = list(grammar or config.grammar)
        if phrases:
            if not model.dynamic_graph:
                log.warning("model at %s has a static graph: the grammar is ignored", model.path)
            if config.grammar_unknown and "[unk]" not in phrases and model.has_unknown_word:
                phrases.append("[unk]")
            self._rec = vosk.KaldiRecognizer(model.model, config.recognizer_rate,
                                             json.dumps(phrases, ensure_ascii=False))
        else:
            self._rec = vosk.KaldiRecognizer(model.model, config.recognizer_rate)
        self._rec.SetWords(config.words)
        self._segments: list[AsrResult] = []

    def accept(self, pcm: bytes) -> AsrResult | None:
        """Feed audio; a segment final when Vosk found an endpoint, else the partial."""
        if self._rec.AcceptWaveform(self._upsampler.process(pcm)):
            segment = _final(self._rec.Result())
            if segment.text:
                self._segments.append(segment)
            return segment
        partial = str(json.loads(self._rec.PartialResult()).get("partial", "")).strip()
        return AsrResult(text=self._joined(partial), final=False) if partial else None

    def finish(self) -> AsrResult:
        """The whole transcript; the decoder is spent afterwards."""
        last = _final(self._rec.FinalResult())
        if last.text:
            self._segments.append(last)
        confs = [s.confidence for s in self._segments if s.confidence is not None]
        return AsrResult(
            text=self._joined(""), final=True,
            confidence=min(confs) if confs else None,
            words=tuple(w for s in self._segments for w in s.words),
        )

    def _joined(self, tail: str) -> str:
        return " ".join([*(s.text for s in self._segments), tail]).strip()


class AsrStream:
    """One call's recogniser, driven from asyncio; calls on it are serialised.

    The decoder itself is built in the pool on first use: a free-form
    ``KaldiRecognizer`` takes about 50 ms to construct, too long for the event loop.
    """

    def __init__(self, factory: Callable[[], Decoder], executor: Executor) -> None:
        self._factory = factory
        self._decoder: Decoder | None = None
        self._executor = executor
        self._lock = asyncio.Lock()
        self._finished: AsrResult | None = None

    async def _ready(self) -> Decoder:
        if self._decoder is None:
            loop = asyncio.get_running_loop()
            self._decoder = await loop.run_in_executor(self._executor, self._factory)
        return self._decoder

    async def accept(self, pcm: bytes) -> AsrResult | None:
        """Decode ``pcm`` in the pool; the newest partial or segment final."""
        async with self._lock:
            if self._finished is not None:
                raise RuntimeError("stream already finished")
            decoder = await self._ready()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, decoder.accept, pcm)

    async def finish(self) -> AsrResult:
        """The final transcript (idempotent)."""
        async with self._lock:
            if self._finished is None:
                decoder = await self._ready()
                loop = asyncio.get_running_loop()
                self._finished = await loop.run_in_executor(self._executor, decoder.finish)
            return self._finished


class AsrEngine:
    """The shared model plus the decoding pool: ``with AsrEngine(model, config) as asr:``."""

    def __init__(self, model: SpeechModel, config: AsrConfig, executor: Executor | None = None) -> None:
        if config.recognizer_rate % INPUT_RATE:
            raise ValueError("recognizer_rate must be a multiple of 8000")
        self.model = model
        self.config = config
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=config.workers,
                                                        thread_name_prefix="asr")

    def open_stream(self, grammar: Sequence[str] = ()) -> AsrStream:
        """A recogniser for one call (``grammar`` overrides the configured phrase list)."""
        phrases = tuple(grammar)
        return AsrStream(lambda: VoskDecoder(self.model, self.config, phrases), self._executor)

    def close(self) -> None:
        """Stop the pool (when this engine created it)."""
        if self._own_executor:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> AsrEngine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
