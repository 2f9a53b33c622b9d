"""Train the n-gram naive Bayes on the training split: ``python -m speechkit.train``.

Per head, ``alpha`` and ``sharpness`` are picked by 5-fold cross-validation (mean
log-loss) on the training split only; the held-out split stays unseen until
``python -m speechkit.evaluate``. Deterministic: the same corpus gives the same file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ivr.speech.classify import Source, blend, keyword_scores
from ivr.speech.nb import (
    DEFAULT_MODEL,
    Head,
    Matrix,
    NgramModel,
    build_vocabulary,
    count_matrix,
    fit_head,
    transform,
)
from ivr.speech.rules import GENERAL, ClassificationRules, load_rules
from ivr.speech.text import normalise
from speechkit.corpus import CORPUS_DIR, NONE, Example, labelled, load_corpus, split

HEADS = ("domain", "request_type", "emergency", "out_of_scope")
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FLOORS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)
DEFAULT_RULES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "speech" / "classification.yaml"
ALPHAS = (0.1, 0.3, 1.0, 3.0)
SHARPNESS = tuple(float(round(10 ** (k / 4), 1)) for k in range(8, 27))  # 100 .. ~3e6
FOLDS = 5
N_MIN, N_MAX, MIN_DF = 1, 2, 2


def _log_loss(head: Head, matrix: Matrix, labels: Sequence[str]) -> tuple[float, float]:
    model = NgramModel([str(i) for i in range(matrix.shape[1])], {"h": head})
    loss, right = 0.0, 0
    for row, label in enumerate(labels):
        probs = model.predict_vector(matrix[row])["h"]
        loss -= float(np.log(max(probs.get(label, 0.0), 1e-12)))
        right += max(probs, key=lambda k: probs[k]) == label
    return loss / len(labels), right / len(labels)


def tune(matrix: Matrix, labels: Sequence[str], classes: Sequence[str]) -> tuple[float, float, float]:
    """(alpha, sharpness, cross-validated accuracy) with the lowest mean log-loss."""
    folds = np.arange(len(labels)) % FOLDS
    best: tuple[float, float, float, float] | None = None
    for alpha in ALPHAS:
        for sharpness in SHARPNESS:
            losses, accs = [], []
            for k in range(FOLDS):
                train_rows = [int(i) for i in np.flatnonzero(folds != k)]
                test_rows = [int(i) for i in np.flatnonzero(folds == k)]
                head = fit_head(matrix[train_rows], [labels[i] for i in train_rows], classes,
                                alpha, sharpness)
                loss, acc = _log_loss(head, matrix[test_rows], [labels[i] for i in test_rows])
                losses.append(loss)
                accs.append(acc)
            mean = float(np.mean(losses))
            if best is None or mean < best[0]:
                best = (mean, alpha, sharpness, float(np.mean(accs)))
    assert best is not None
    return best[1], best[2], best[3]


def train(examples: Sequence[Example], verbose: bool = False) -> NgramModel:
    """Fit every head on ``examples`` (the training split)."""
    vocabulary = build_vocabulary([e.text for e in examples], N_MIN, N_MAX, MIN_DF)
    index = {g: i for i, g in enumerate(vocabulary)}
    heads = {}
    for name in HEADS:
        rows = labelled(examples, name)
        labels = [e.label(name) for e in rows]
        classes = sorted(set(labels))
        matrix = transform(count_matrix(index, [e.text for e in rows], N_MIN, N_MAX))
        alpha, sharpness, cv_acc = tune(matrix, labels, classes)
        heads[name] = fit_head(matrix, labels, classes, alpha, sharpness)
        if verbose:
            print(f"  {name:13s} {len(classes):2d} classes, {len(rows)} examples: "
                  f"alpha={alpha:g} sharpness={sharpness:g} cv accuracy={cv_acc:.3f}", flush=True)
    return NgramModel(vocabulary, heads, N_MIN, N_MAX)


def out_of_fold_models(examples: Sequence[Example]) -> list[tuple[list[Example], NgramModel]]:
    """(held-in-fold examples, a model trained without them) for each of the folds."""
    folds = [[e for i, e in enumerate(examples) if i % FOLDS == k] for k in range(FOLDS)]
    out = []
    for k, fold in enumerate(folds):
        rest = [e for i, e in enumerate(examples) if i % FOLDS != k]
        out.append((fold, train(rest)))
    return out


def calibrate(examples: Sequence[Example], rules: ClassificationRules) -> tuple[float, float, float, float]:
    """(rule_weight, min_confidence, model_min_confidence, utility) for the domain decision.

    From out-of-fold models on the training split. Utility per caller: +1 routed to
    the right domain, 0 sent to the general queue, -1 routed to a wrong specialist
    (general callers: +1 for general, -1 otherwise).
    """
    cases: list[tuple[str, dict[str, float], dict[str, float]]] = []
    for fold, model in out_of_fold_models(examples):
        for example in fold:
            if example.domain == NONE or example.emergency != NONE:
                continue
            text = normalise(example.text)
            cases.append((example.domain, keyword_scores(text, rules.domains), model.predict(text)["domain"]))
    labels = sorted(set(rules.domains) | {GENERAL} | {c[0] for c in cases})
    best: tuple[float, float, float, float] | None = None
    for weight in WEIGHTS:
        decided = [(truth, *blend(scores, probs, labels, weight)) for truth, scores, probs in cases]
        for floor in FLOORS:
            for model_floor in FLOORS:
                utility = 0
                for truth, label, confidence, source in decided:
                    needed = model_floor if source is Source.MODEL else floor
                    got = label if confidence >= needed else GENERAL
                    if got == truth:
                        utility += 1
                    elif got != GENERAL or truth == GENERAL:
                        utility -= 1
                score = utility / len(cases)
                if best is None or score > best[3]:
                    best = (weight, floor, model_floor, score)
    assert best is not None
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speechkit.train", description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--calibrate", action="store_true",
                        help="also suggest the blend thresholds (out-of-fold, training split)")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="rules for --calibrate")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if --out differs from what the corpus trains (no write)")
    args = parser.parse_args(argv)
    examples = load_corpus(args.corpus)
    train_set, held_out = split(examples)
    print(f"corpus: {len(examples)} examples, training on {len(train_set)}, "
          f"{len(held_out)} held out", flush=True)
    model = train(train_set, verbose=True)
    if args.calibrate:
        weight, floor, model_floor, utility = calibrate(train_set, load_rules(args.rules))
        print(f"calibration (training split, out of fold): rule_weight={weight:g} "
              f"min_confidence={floor:g} model_min_confidence={model_floor:g} "
              f"(utility {utility:.3f} per caller)", flush=True)
    if args.check:
        scratch = args.out.with_suffix(".check")
        model.save(scratch)
        same = args.out.is_file() and scratch.read_bytes() == args.out.read_bytes()
        scratch.unlink()
        print(f"{args.out}: {'up to date' if same else 'STALE: run python -m speechkit.train'}")
        return 0 if same else 1
    model.save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB, "
          f"{len(model.vocabulary)} n-grams)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
