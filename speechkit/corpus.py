"""The labelled caller corpus (``speechkit/corpus/*.tsv``) and its fixed held-out split."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"
COLUMNS = ("text", "domain", "request_type", "emergency", "out_of_scope")
NONE = "-"
#: Every HELDOUT_EVERY-th example of each class (in hash order) is held out.
HELDOUT_EVERY = 5


@dataclass(frozen=True)
class Example:
    """One caller sentence and its labels (``-`` = none / not labelled)."""

    text: str
    domain: str
    request_type: str
    emergency: str
    out_of_scope: str
    source: str = ""

    @property
    def stratum(self) -> str:
        """The class the split is balanced on."""
        if self.emergency != NONE:
            return f"emergency:{self.emergency}"
        if self.out_of_scope != NONE:
            return f"out_of_scope:{self.out_of_scope}"
        return f"domain:{self.domain}"

    def label(self, head: str) -> str:
        """The label for one model head (``none`` for absent emergency/out-of-scope)."""
        value = str(getattr(self, head))
        if head in ("emergency", "out_of_scope") and value == NONE:
            return "none"
        return value


class CorpusError(ValueError):
    """A corpus line is malformed."""


def read_tsv(path: Path) -> list[Example]:
    """Examples of one TSV file (``#`` comments and the header line are skipped)."""
    out: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("text\t"):
            continue
        cells = line.split("\t")
        if len(cells) != len(COLUMNS) or not cells[0].strip():
            raise CorpusError(f"{path}:{number}: expected {len(COLUMNS)} tab-separated columns")
        text, domain, request_type, emergency, out_of_scope = (c.strip() for c in cells)
        out.append(Example(text, domain, request_type, emergency, out_of_scope,
                           source=f"{path.name}:{number}"))
    return out


def load_corpus(directory: Path = CORPUS_DIR) -> list[Example]:
    """All examples, files in name order."""
    examples = [e for path in sorted(directory.glob("*.tsv")) for e in read_tsv(path)]
    seen: dict[str, str] = {}
    for example in examples:
        if example.text in seen:
            raise CorpusError(f"{example.source}: duplicate of {seen[example.text]}")
        seen[example.text] = example.source
    return examples


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held_out): per stratum, in hash order, every 5th example from the 3rd."""
    strata: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        strata[example.stratum].append(example)
    train: list[Example] = []
    held: list[Example] = []
    for name in sorted(strata):
        for i, example in enumerate(sorted(strata[name], key=lambda e: _key(e.text))):
            (held if i % HELDOUT_EVERY == 2 else train).append(example)
    return train, held


def labelled(examples: Sequence[Example], head: str) -> list[Example]:
    """The examples that carry a label for ``head``."""
    return [e for e in examples if e.label(head) != NONE]
