"""Generate every missing or out-of-date voice prompt: ``python -m ivr.prompts.make``.

A prompt is regenerated only when the hash of what it says (pipeline, voice settings,
spoken pinyin) differs from the one recorded in ``generated/manifest.json``, or its
file is gone. Ids with a studio recording under ``custom/`` are skipped. Files this
tool made for ids that no longer exist are removed (only when a catalogue was read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config.errors import ConfigError
from ivr.prompts.library import CUSTOM, EXTENSION, GENERATED, PromptLibrary
from ivr.prompts.render import PromptSpec, all_prompts, load_catalogue
from ivr.prompts.schema import load_prompts
from ivr.prompts.spoken import to_spoken
from ivr.prompts.synth import (
    SynthError,
    Voice,
    content_hash,
    find_tools,
    synthesize_spoken,
    wav_format,
)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

#: ``(spoken pinyin, output path, voice) -> seconds of audio``
Synth = Callable[[str, Path, Voice], float]
Log = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    """One prompt to (maybe) synthesise."""

    spec: PromptSpec
    spoken: str
    digest: str
    path: Path


@dataclass
class BuildReport:
    """What a build did, id by id."""

    generated: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Manifest:
    """``generated/manifest.json``: id → hash and text of the generated file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, str]] = {}
        self.dirty = False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == MANIFEST_VERSION and isinstance(data.get("prompts"), dict):
                self.entries = {
                    str(k): {str(a): str(b) for a, b in v.items()}
                    for k, v in data["prompts"].items()
                    if isinstance(v, dict)
                }
        except (OSError, ValueError, AttributeError):
            self.entries = {}

    def digest(self, prompt_id: str) -> str | None:
        """The recorded hash of ``prompt_id``."""
        return self.entries.get(prompt_id, {}).get("hash")

    def record(self, job: Job) -> None:
        """Remember that ``job`` was generated."""
        self.entries[job.spec.id] = {
            "hash": job.digest, "text": job.spec.text, "spoken": job.spoken
        }
        self.dirty = True

    def forget(self, prompt_id: str) -> None:
        """Drop ``prompt_id``."""
        if self.entries.pop(prompt_id, None) is not None:
            self.dirty = True

    def save(self) -> None:
        """Write atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": MANIFEST_VERSION, "prompts": dict(sorted(self.entries.items()))}
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
        os.replace(tmp, self.path)
        self.dirty = False


def _synth(spoken: str, out: Path, voice: Voice) -> float:
    return synthesize_spoken(spoken, out, voice)


def _print(message: str) -> None:
    print(message, flush=True)


def _check_custom(library: PromptLibrary, ids: set[str], report: BuildReport) -> None:
    custom_dir = library.recordings_dir / CUSTOM
    if not custom_dir.is_dir():
        return
    for path in sorted(custom_dir.rglob(f"*{EXTENSION}")):
        prompt_id = path.relative_to(custom_dir).with_suffix("").as_posix()
        if prompt_id not in ids:
            report.warnings.append(f"{path}: no prompt has id {prompt_id!r}; it is never played")
            continue
        try:
            fmt = wav_format(path)
        except SynthError as exc:
            report.warnings.append(str(exc))
            continue
        if not fmt.asterisk_ok:
            report.warnings.append(
                f"{path}: {fmt.rate} Hz, {fmt.channels} channel(s), {8 * fmt.sample_bytes}-bit; "
                "Asterisk needs 8000 Hz mono 16-bit: "
                f"sox IN.wav -r 8000 -c 1 -b 16 -e signed-integer {path.name}"
            )


def _prune(library: PromptLibrary, manifest: Manifest, ids: set[str], report: BuildReport) -> None:
    generated_dir = library.recordings_dir / GENERATED
    for prompt_id in sorted(set(manifest.entries) - ids):
        manifest.forget(prompt_id)
        try:
            path = library.generated_path(prompt_id)
        except ValueError:
            continue
        path.unlink(missing_ok=True)
        report.removed.append(prompt_id)
        parent = path.parent
        while parent != generated_dir and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def build(
    specs: Sequence[PromptSpec],
    recordings_dir: Path,
    *,
    voice: Voice | None = None,
    pronunciations: Mapping[str, str] | None = None,
    force: bool = False,
    jobs: int | None = None,
    prune: bool = True,
    synth: Synth = _synth,
    log: Log = _print,
) -> BuildReport:
    """Generate what is missing or stale under ``recordings_dir/generated``."""
    started = time.monotonic()
    voice = voice or Voice()
    library = PromptLibrary(recordings_dir)
    manifest = Manifest(recordings_dir / GENERATED / MANIFEST)
    report = BuildReport()
    ids = {spec.id for spec in specs}
    _check_custom(library, ids, report)

    todo: list[Job] = []
    for spec in specs:
        if library.has_custom(spec.id):
            report.custom.append(spec.id)
            continue
        spoken = to_spoken(spec.text, pronunciations)
        job = Job(spec, spoken, content_hash(spoken, voice), library.generated_path(spec.id))
        if not force and manifest.digest(spec.id) == job.digest and job.path.is_file():
            if manifest.entries[spec.id].get("text") != spec.text:
                manifest.record(job)  # same speech, reworded text: no new audio needed
            report.up_to_date.append(spec.id)
        else:
            todo.append(job)

    if prune:
        _prune(library, manifest, ids, report)
    if todo:
        if synth is _synth:
            find_tools()  # fail once, clearly, rather than once per prompt
        workers = max(1, jobs or os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures: dict[Future[float], Job] = {
                pool.submit(synth, job.spoken, job.path, voice): job for job in todo
            }
            for done, future in enumerate(as_completed(futures), start=1):
                job = futures[future]
                try:
                    seconds = future.result()
                except SynthError as exc:
                    report.failed[job.spec.id] = str(exc)
                    log(f"[{done}/{len(todo)}] FAILED {job.spec.id}: {exc}")
                    continue
                manifest.record(job)
                manifest.save()
                report.generated.append(job.spec.id)
                log(f"[{done}/{len(todo)}] {job.spec.id} ({seconds:.1f} s)")
    if manifest.dirty:
        manifest.save()
    report.seconds = time.monotonic() - started
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make_prompts",
        description="Generate placeholder voice prompts (espeak-ng + sox) for the dialplan.",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="repository root the defaults are relative to (default: cwd)")
    parser.add_argument("--recordings", type=Path,
                        help="recordings directory (default: ROOT/recordings)")
    parser.add_argument("--catalogue", type=Path,
                        help="merger catalogue (default: ROOT/merger_catalogue.yaml if present)")
    parser.add_argument("--prompts", type=Path,
                        help="prompt texts (default: RECORDINGS/prompts.yaml)")
    parser.add_argument("--force", action="store_true", help="regenerate every prompt")
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="parallel syntheses (default: CPU count)")
    parser.add_argument("--list", action="store_true",
                        help="print each id, its state, text and pinyin; generate nothing")
    return parser


def _list(specs: Sequence[PromptSpec], recordings: Path, voice: Voice,
          pronunciations: Mapping[str, str]) -> None:
    library = PromptLibrary(recordings)
    manifest = Manifest(recordings / GENERATED / MANIFEST)
    for spec in specs:
        spoken = to_spoken(spec.text, pronunciations)
        if library.has_custom(spec.id):
            state = "custom"
        elif (manifest.digest(spec.id) == content_hash(spoken, voice)
              and library.generated_path(spec.id).is_file()):
            state = "ok"
        else:
            state = "todo"
        print(f"{spec.id}\t{state}\t{spec.text}\t{spoken}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    root: Path = args.root
    recordings: Path = args.recordings or root / "recordings"
    prompts_path: Path = args.prompts or recordings / "prompts.yaml"
    catalogue_path: Path | None = args.catalogue
    if catalogue_path is None and (root / "merger_catalogue.yaml").is_file():
        catalogue_path = root / "merger_catalogue.yaml"
    try:
        prompts = load_prompts(prompts_path)
        catalogue = load_catalogue(catalogue_path) if catalogue_path is not None else None
        specs = all_prompts(prompts, catalogue)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"make_prompts: {exc}", file=sys.stderr)
        return 2
    if catalogue is None:
        print("make_prompts: no merger catalogue; fixed prompts only", file=sys.stderr)
    voice = Voice(**prompts.voice.model_dump())
    if args.list:
        _list(specs, recordings, voice, prompts.pronunciations)
        return 0
    try:
        report = build(specs, recordings, voice=voice, pronunciations=prompts.pronunciations,
                       force=args.force, jobs=args.jobs, prune=catalogue is not None)
    except SynthError as exc:
        print(f"make_prompts: {exc}", file=sys.stderr)
        return 2
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{len(specs)} prompts: {len(report.generated)} generated, "
        f"{len(report.up_to_date)} up to date, {len(report.custom)} custom, "
        f"{len(report.removed)} removed, {len(report.failed)} failed "
        f"in {report.seconds:.1f} s"
    )
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
