"""Character n-gram complement naive Bayes in numpy, several label sets ("heads") at once.

Complement NB (Rennie et al., 2003) with log term frequencies, length-normalised
documents and normalised weights: it copes with many small, unbalanced classes
(34 domains of about twenty sentences) far better than plain multinomial NB. Scores
become probabilities through a tempered softmax, ``log P(c) + sharpness × score_c``,
so they can be blended with the keyword rules; ``alpha`` and ``sharpness`` are chosen
per head by cross-validation on the training split (:mod:`speechkit.train`).
Parameters are stored as sparse per-class feature sums in a small JSON file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ivr.speech.text import ngrams

FORMAT = "hotline12345-ngram-cnb/1"
DEFAULT_MODEL = Path(__file__).parent / "model" / "ngram_nb.json"
_DIGITS = 4  # rounding of stored sums: keeps the file stable and small

Matrix = npt.NDArray[np.float64]


class ModelFileError(ValueError):
    """The model file is missing, unreadable or of another format."""


def transform(counts: Matrix) -> Matrix:
    """Log term frequency, then unit length per row (document)."""
    logged = np.log1p(counts)
    norms = np.linalg.norm(logged, axis=-1, keepdims=True)
    return np.asarray(logged / np.maximum(norms, 1e-12), dtype=np.float64)


@dataclass(frozen=True)
class Head:
    """One label set: per-class sums of transformed features and the tempering knobs."""

    labels: tuple[str, ...]
    doc_counts: Matrix  # (C,) training examples per class
    sums: Matrix  # (C, V) sums of transformed feature vectors per class
    alpha: float
    sharpness: float

    def tables(self) -> tuple[Matrix, Matrix]:
        """(log prior (C,), normalised complement weights (C, V))."""
        prior = np.log(self.doc_counts / self.doc_counts.sum())
        complement = self.sums.sum(axis=0, keepdims=True) - self.sums + self.alpha
        weights = np.log(complement / complement.sum(axis=1, keepdims=True))
        weights /= np.abs(weights).sum(axis=1, keepdims=True)
        return prior, weights


class NgramModel:
    """``model.predict(text) -> {head: {label: probability}}``."""

    def __init__(self, vocabulary: Sequence[str], heads: Mapping[str, Head],
                 n_min: int = 1, n_max: int = 2) -> None:
        self.vocabulary = tuple(vocabulary)
        self.index = {gram: i for i, gram in enumerate(self.vocabulary)}
        self.heads = dict(heads)
        self.n_min = n_min
        self.n_max = n_max
        self._tables = {name: head.tables() for name, head in self.heads.items()}

    def vectorise(self, text: str) -> Matrix:
        """Transformed counts of the known n-grams of ``text`` (length V)."""
        row: Matrix = transform(count_matrix(self.index, [text], self.n_min, self.n_max))[0]
        return row

    def predict_vector(self, vector: Matrix) -> dict[str, dict[str, float]]:
        """Per head, the probability of each label for one transformed vector."""
        out: dict[str, dict[str, float]] = {}
        for name, head in self.heads.items():
            prior, weights = self._tables[name]
            scores = prior - head.sharpness * (weights @ vector)
            probs = np.exp(scores - scores.max())
            probs /= probs.sum()
            out[name] = {label: float(p) for label, p in zip(head.labels, probs, strict=True)}
        return out

    def predict(self, text: str) -> dict[str, dict[str, float]]:
        """Per head, the probability of each label for ``text`` (priors when nothing is known)."""
        return self.predict_vector(self.vectorise(text))

    def to_json(self) -> dict[str, Any]:
        """The parameters as JSON-ready data (sparse sums, deterministic order)."""
        heads: dict[str, Any] = {}
        for name, head in self.heads.items():
            classes = {}
            for c, label in enumerate(head.labels):
                nonzero = np.flatnonzero(head.sums[c])
                classes[label] = {
                    "docs": int(head.doc_counts[c]),
                    "grams": [int(i) for i in nonzero],
                    "sums": [round(float(head.sums[c, i]), _DIGITS) for i in nonzero],
                }
            heads[name] = {"alpha": head.alpha, "sharpness": head.sharpness, "classes": classes}
        return {"format": FORMAT, "n_min": self.n_min, "n_max": self.n_max,
                "vocabulary": list(self.vocabulary), "heads": heads}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NgramModel:
        """Rebuild a model from :meth:`to_json` data."""
        if data.get("format") != FORMAT:
            raise ModelFileError(f"not a {FORMAT} model (format {data.get('format')!r})")
        vocabulary = list(data["vocabulary"])
        heads = {}
        for name, spec in data["heads"].items():
            labels = tuple(spec["classes"])
            sums = np.zeros((len(labels), len(vocabulary)))
            docs = np.zeros(len(labels))
            for c, label in enumerate(labels):
                cls_spec = spec["classes"][label]
                sums[c, cls_spec["grams"]] = cls_spec["sums"]
                docs[c] = cls_spec["docs"]
            heads[name] = Head(labels, docs, sums, float(spec["alpha"]), float(spec["sharpness"]))
        return cls(vocabulary, heads, int(data["n_min"]), int(data["n_max"]))

    def save(self, path: Path) -> None:
        """Write the model as compact, stable JSON (one line per head)."""
        data = self.to_json()
        path.parent.mkdir(parents=True, exist_ok=True)
        head_lines = [
            f"{json.dumps(name)}: {json.dumps(spec, ensure_ascii=False, separators=(',', ':'))}"
            for name, spec in data["heads"].items()
        ]
        text = (
            f'{{"format": {json.dumps(data["format"])}, "n_min": {data["n_min"]}, '
            f'"n_max": {data["n_max"]},\n'
            f'"vocabulary": {json.dumps(data["vocabulary"], ensure_ascii=False)},\n'
            '"heads": {\n' + ",\n".join(head_lines) + "\n}}\n"
        )
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)


def load_ngram_model(path: Path = DEFAULT_MODEL) -> NgramModel:
    """Load a saved model; :class:`ModelFileError` names the path on any problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return NgramModel.from_json(data)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelFileError(f"{path}: cannot load the classifier model: {exc}") from exc


def build_vocabulary(texts: Sequence[str], n_min: int, n_max: int, min_df: int) -> list[str]:
    """N-grams found in at least ``min_df`` texts, sorted."""
    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(ngrams(text, n_min, n_max)))
    return sorted(g for g, n in df.items() if n >= min_df)


def count_matrix(index: Mapping[str, int], texts: Sequence[str], n_min: int, n_max: int) -> Matrix:
    """Document-by-n-gram raw count matrix over a vocabulary index."""
    matrix = np.zeros((len(texts), len(index)))
    for row, text in enumerate(texts):
        for gram, count in ngrams(text, n_min, n_max).items():
            i = index.get(gram)
            if i is not None:
                matrix[row, i] += count
    return matrix


def fit_head(features: Matrix, labels: Sequence[str], classes: Sequence[str],
             alpha: float, sharpness: float) -> Head:
    """Sum transformed feature rows per class (rows of ``features`` labelled by ``labels``)."""
    position = {label: i for i, label in enumerate(classes)}
    sums = np.zeros((len(classes), features.shape[1]))
    docs = np.zeros(len(classes))
    for row, label in enumerate(labels):
        sums[position[label]] += features[row]
        docs[position[label]] += 1
    if (docs == 0).any():
        empty = [c for c, n in zip(classes, docs, strict=True) if n == 0]
        raise ValueError(f"no training examples for {empty}")
    return Head(tuple(classes), docs, sums, alpha, sharpness)
