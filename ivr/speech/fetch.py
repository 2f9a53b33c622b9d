"""Fetch and verify the official Mandarin Vosk model: ``tools/fetch_vosk_model``.

::

    tools/fetch_vosk_model                      # download vosk-model-small-cn-0.22, verify
    tools/fetch_vosk_model --zip FILE.zip       # install a zip fetched elsewhere (offline)
    tools/fetch_vosk_model --verify DIR         # check an unpacked model against its hashes

The download goes to a temporary file beside the destination, is unpacked into a
temporary directory (no member may escape it) and renamed into place only after
every known file hash matches, so a half-fetched model is never left where the engine
looks. Prints the path to set as the model path in the configuration.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivr.core.environ import model_dir
from ivr.speech.asr import check_model_dir

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """A published model: where it is, what its zip unpacks to, the hashes we know."""

    name: str
    url: str
    zip_size: int | None
    files: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # path -> (bytes, sha256)


MODELS: Mapping[str, ModelSpec] = {
    "small-cn-0.22": ModelSpec(
        name="vosk-model-small-cn-0.22",
        url="https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip",
        zip_size=43_898_754,
        files={  # ../shared/ENVIRONMENT.md
            "am/final.mdl":
                (15_901_896, "91eda2c04c4f599361cb92b0e5298ccdf6b3c7a1fa52bfcefcd2c4e07aa1c131"),
            "graph/HCLr.fst":
                (16_158_762, "798af0d9ba6f2d727747f58e1e7b2305f8618bc8ea7f6c51beecd8a2c965b965"),
            "graph/Gr.fst":
                (26_082_259, "46d41a9b1723abccdcb354d731a5b58d87c060100d88ada1a3e31220f52b0434"),
            "ivector/final.ie":
                (9_927_287, "c39d46fbff04efb7baa9660ae7a728b0e2f35a4a1250b56ed3a599e26956df86"),
        },
    ),
    # The large model: no hashes are recorded here, so only its layout is checked.
    "cn-0.22": ModelSpec(
        name="vosk-model-cn-0.22",
        url="https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip",
        zip_size=None,
    ),
}

Progress = Callable[[int, int | None], None]


class FetchError(Exception):
    """The model could not be fetched, unpacked or verified."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(directory: Path, spec: ModelSpec) -> list[str]:
    """Problems with an unpacked model (empty when every known hash and the layout match)."""
    problems = [f"layout: {p}" for p in check_model_dir(directory)]
    if not directory.is_dir():
        return problems
    for rel, (size, digest) in sorted(spec.files.items()):
        path = directory / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != size:
            problems.append(f"{rel}: {path.stat().st_size} bytes, expected {size}")
        elif sha256_of(path) != digest:
            problems.append(f"{rel}: SHA-256 differs from the published model")
    return problems


def download(url: str, target: Path, timeout_s: float, progress: Progress | None = None) -> None:
    """Stream ``url`` into ``target``; :class:`FetchError` explains an unreachable URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, target.open("wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(
            f"cannot download {url}: {reason}. Without internet access, fetch the zip on another "
            "machine and run `tools/fetch_vosk_model --zip FILE`, or copy the unpacked directory "
            "and run `tools/fetch_vosk_model --verify DIR`") from exc


def unpack(archive: Path, into: Path, spec: ModelSpec) -> Path:
    """Extract ``archive`` into ``into``; return the model directory inside it."""
    try:
        with zipfile.ZipFile(archive) as zf:
            root = into.resolve()
            for member in zf.namelist():
                target = (into / member).resolve()
                if not target.is_relative_to(root):
                    raise FetchError(f"{archive}: member {member!r} would land outside the target")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{archive}: not a zip file ({exc})") from exc
    candidate = into / spec.name
    if candidate.is_dir():
        return candidate
    subdirs = [p for p in into.iterdir() if p.is_dir()]
    if len(subdirs) == 1:
        return subdirs[0]
    if (into / "am").is_dir():
        return into
    raise FetchError(f"{archive}: no {spec.name}/ directory inside")


def install(archive: Path, dest: Path, spec: ModelSpec) -> Path:
    """Unpack and verify ``archive``, then move the model to ``dest/<name>``."""
    if spec.zip_size is not None and archive.stat().st_size != spec.zip_size:
        raise FetchError(f"{archive}: {archive.stat().st_size} bytes, the published zip has {spec.zip_size}")
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / spec.name
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=dest) as tmp:
        model_dir = unpack(archive, Path(tmp), spec)
        problems = verify(model_dir, spec)
        if problems:
            raise FetchError(f"{archive} does not hold the published {spec.name}: " + "; ".join(problems))
        if final.exists():
            shutil.rmtree(final)
        os.replace(model_dir, final)
    return final


def fetch(spec: ModelSpec, dest: Path, timeout_s: float, progress: Progress | None = None) -> Path:
    """Download ``spec.url`` into ``dest`` and install it (an existing good copy is kept)."""
    final = dest / spec.name
    if final.is_dir() and not verify(final, spec):
        return final
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp:
        archive = Path(tmp) / f"{spec.name}.zip"
        download(spec.url, archive, timeout_s, progress)
        return install(archive, dest, spec)


def _default_dest() -> Path:
    return model_dir()


def _progress(done: int, total: int | None) -> None:
    share = f" ({done / total:.0%} of {total / 1e6:.1f} MB)" if total else ""
    print(f"\r  {done / 1e6:.1f} MB{share}", end="", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/fetch_vosk_model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="small-cn-0.22")
    parser.add_argument("--url", help="download from here instead of the official address")
    parser.add_argument("--dest", type=Path, default=None,
                        help="where to put the model (default $HOTLINE_MODEL_DIR or "
                             "~/.cache/hotline12345/models)")
    parser.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--zip", type=Path, help="install this already-downloaded zip")
    action.add_argument("--verify", type=Path, metavar="DIR", help="only verify an unpacked model")
    args = parser.parse_args(argv)
    spec = MODELS[args.model]
    if args.url:
        spec = ModelSpec(spec.name, args.url, spec.zip_size, spec.files)
    dest = args.dest or _default_dest()
    try:
        if args.verify:
            problems = verify(args.verify, spec)
            if problems:
                print(f"{args.verify}: NOT the published {spec.name}:", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                return 1
            checked = f"{len(spec.files)} file hashes" if spec.files else "layout only (no known hashes)"
            print(f"{args.verify}: ok ({spec.name}, {checked})")
            return 0
        if args.zip:
            path = install(args.zip, dest, spec)
        else:
            print(f"downloading {spec.url}", file=sys.stderr)
            path = fetch(spec, dest, args.timeout, _progress)
            print(file=sys.stderr)
    except FetchError as exc:
        print(f"\nfetch_vosk_model: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: verified; set it as the speech model path")
    return 0


if __name__ == "__main__":
    sys.exit(main())
