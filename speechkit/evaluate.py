"""Held-out accuracy of the classifier, overall and per class: ``python -m speechkit.evaluate``.

Three readings of the held-out split: the keyword rules alone, the n-gram model alone
and the combination that routes calls (:func:`ivr.speech.classify.classify`). The
rules default to ``tests/fixtures/speech/classification.yaml``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.speech.classify import Classification, classify
from ivr.speech.nb import DEFAULT_MODEL, NgramModel, load_ngram_model
from ivr.speech.rules import GENERAL, ClassificationRules, load_rules
from speechkit.corpus import CORPUS_DIR, Example, load_corpus, split

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "speech" / "classification.yaml"
HEADS = ("domain", "request_type", "emergency", "out_of_scope")


@dataclass(frozen=True)
class Score:
    """Accuracy of one head: overall and recall per true class."""

    total: int
    correct: int
    per_class: dict[str, tuple[int, int]]  # label -> (correct, total)

    @property
    def accuracy(self) -> float:
        """Share of correct predictions."""
        return self.correct / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        """Accuracy and per-class recall, rounded."""
        return {"n": self.total, "accuracy": round(self.accuracy, 3),
                "per_class": {k: {"n": n, "recall": round(c / n, 3)}
                              for k, (c, n) in sorted(self.per_class.items())}}


def score(pairs: Sequence[tuple[str, str]]) -> Score:
    """Score (truth, prediction) pairs."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for truth, guess in pairs:
        per[truth][1] += 1
        per[truth][0] += truth == guess
    correct = sum(c for c, _ in per.values())
    return Score(len(pairs), correct, {k: (v[0], v[1]) for k, v in per.items()})


def _as_labels(result: Classification) -> dict[str, str]:
    return {"domain": result.domain, "request_type": result.request_type.value,
            "emergency": result.emergency_service.value if result.emergency_service else "none",
            "out_of_scope": result.out_of_scope.value if result.out_of_scope else "none"}


def _model_labels(model: NgramModel) -> Callable[[str], dict[str, str]]:
    def predict(text: str) -> dict[str, str]:
        probs = model.predict(text)
        return {head: max(p, key=lambda k: p[k]) for head, p in probs.items()}
    return predict


def _relevant(example: Example, head: str) -> bool:
    if head == "domain":
        return example.domain != "-" and example.emergency == "-"
    return example.label(head) != "-"


def evaluate(held_out: Sequence[Example], rules: ClassificationRules,
             model: NgramModel) -> dict[str, dict[str, Score]]:
    """Scores per layer (rules, model, combined) and head."""
    layers: dict[str, Callable[[str], dict[str, str]]] = {
        "rules": lambda text: _as_labels(classify(text, rules, None)),
        "model": _model_labels(model),
        "combined": lambda text: _as_labels(classify(text, rules, model)),
    }
    out: dict[str, dict[str, Score]] = {}
    for layer, predict in layers.items():
        guesses = [predict(e.text) for e in held_out]
        out[layer] = {head: score([(e.label(head), g[head]) for e, g in zip(held_out, guesses, strict=True)
                                   if _relevant(e, head)]) for head in HEADS}
    return out


def routing_shares(held_out: Sequence[Example], rules: ClassificationRules,
                   model: NgramModel) -> tuple[float, float, float]:
    """Of callers with a specific domain: shares routed right, to general, to a wrong specialist."""
    rows = [e for e in held_out if _relevant(e, "domain") and e.domain != GENERAL]
    got = [classify(e.text, rules, model).domain for e in rows]
    right = sum(g == e.domain for g, e in zip(got, rows, strict=True))
    general = sum(g == GENERAL for g in got)
    n = len(rows) or 1
    return right / n, general / n, (len(rows) - right - general) / n


def _false_alarms(held_out: Sequence[Example], rules: ClassificationRules, model: NgramModel) -> int:
    return sum(classify(e.text, rules, model).is_emergency for e in held_out if e.emergency == "-")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speechkit.evaluate", description=__doc__)
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--per-class", action="store_true", help="print recall per class")
    args = parser.parse_args(argv)
    rules = load_rules(args.rules)
    model = load_ngram_model(args.model)
    examples = load_corpus(args.corpus)
    train_set, held_out = split(examples)
    results = evaluate(held_out, rules, model)
    start = time.perf_counter()
    for example in held_out:
        classify(example.text, rules, model)
    per_call_ms = (time.perf_counter() - start) / len(held_out) * 1000
    right, fallback, wrong = routing_shares(held_out, rules, model)
    false_alarms = _false_alarms(held_out, rules, model)

    print(f"held-out split: {len(held_out)} of {len(examples)} examples "
          f"(trained on the other {len(train_set)})")
    print(f"{'head':14s}" + "".join(f"{layer:>11s}" for layer in results))
    for head in HEADS:
        cells = "".join(f"{results[layer][head].accuracy:11.3f}" for layer in results)
        print(f"{head:14s}{cells}   (n={results['combined'][head].total})")
    print(f"combined, callers with a specific domain: {right:.1%} to it, {fallback:.1%} to general, "
          f"{wrong:.1%} to a wrong specialist")
    print(f"combined: {false_alarms} non-emergency callers flagged as emergencies; "
          f"{per_call_ms:.2f} ms per classification")
    if args.per_class:
        for head in HEADS:
            print(f"\n{head} (recall per class: rules / model / combined)")
            combined = results["combined"][head].per_class
            for label in sorted(combined):
                cells = " / ".join(
                    f"{results[layer][head].per_class[label][0]}/{combined[label][1]}" for layer in results)
                print(f"  {label:22s} {cells}")
    if args.json:
        payload = {
            "held_out": len(held_out), "trained_on": len(train_set),
            "layers": {layer: {h: s.to_json() for h, s in heads.items()} for layer, heads in results.items()},
            "combined_specific_domain": {"right": round(right, 3), "general": round(fallback, 3),
                                         "wrong": round(wrong, 3)},
            "combined_false_emergencies": false_alarms,
            "classify_ms": round(per_call_ms, 3),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
