"""Compare out-of-distribution scores on one trained artifact, to choose the default method.

For each candidate (kNN with several k, Mahalanobis, energy, 1 - top probability), the statistics
are fitted on the artifact's training split and the threshold on its validation split exactly as
``medconsult train`` does (``ood.fit_ood_check``: at most 5 % of validation rows abstain for either
reason); then the abstention on an out-of-scope set and the AUROC are reported. Use the
development part of data/ood/ to choose; the test part is for the final measurement only.

    python benchmarks/ood_methods.py --model DIR [--out data/ood/dev.csv] [--format json]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from medconsult.ml.data import LABEL2ID, load_dataset, split_per_source
from medconsult.ml.evaluate import _read_training_args, recorded_files
from medconsult.ml.metrics import softmax
from medconsult.ml.ood import (
    OodMethod,
    auroc,
    choose_ood_threshold,
    fit_ood_check,
    out_of_fold_abstention,
)
from medconsult.ml.predict import Classifier

CANDIDATES: tuple[tuple[OodMethod, int], ...] = (
    ("knn", 1),
    ("knn", 5),
    ("knn", 10),
    ("knn", 20),
    ("knn", 50),
    ("mahalanobis", 0),
    ("energy", 0),
)


def outputs(classifier: Classifier, texts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    windows = classifier.encode(list(texts))
    logits, pooled = classifier.window_outputs(windows)
    return (
        classifier.aggregate(windows, logits, len(texts)),
        classifier.aggregate(windows, pooled, len(texts)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("data/ood/dev.csv"))
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--write",
        type=Path,
        default=None,
        help="also write a copy of the artifact with the default method's check fitted as "
        "`medconsult train` fits it (for `medconsult evaluate-ood` on an artifact trained "
        "before the check existed)",
    )
    args = parser.parse_args()

    classifier = Classifier.load(args.model, device="cpu", precision="fp32", max_text_chars=10**9)
    training_args = _read_training_args(args.model)
    # Every training file the artifact records, each split on its own as training splits it.
    train, val = split_per_source(
        [load_dataset(Path(str(entry["path"]))) for entry in recorded_files(training_args)],
        float(training_args["val_fraction"]),
        int(training_args["seed"]),
    )
    out = load_dataset(args.out)
    with args.out.open(encoding="utf-8", newline="") as handle:
        sources = [row.get("source", "") for row in csv.DictReader(handle)]
    written = np.array([source.startswith("written") for source in sources], dtype=bool)
    train_targets = np.array([LABEL2ID[str(label)] for label in train.labels])
    _, train_pooled = outputs(classifier, train.texts)
    val_logits, val_pooled = outputs(classifier, val.texts)
    out_logits, out_pooled = outputs(classifier, out.texts)
    val_probs = softmax(val_logits, classifier.temperature)
    low_val = val_probs.max(axis=1) < classifier.threshold
    low_out = softmax(out_logits, classifier.temperature).max(axis=1) < classifier.threshold

    if args.write is not None:
        check = fit_ood_check(
            train_features=train_pooled,
            train_targets=train_targets,
            val_features=val_pooled,
            val_logits=val_logits,
            val_low_confidence=low_val,
            temperature=classifier.temperature,
        )
        staging = args.write.parent / f".{args.write.name}.partial"
        shutil.copytree(args.model, staging)
        for path in staging.iterdir():
            path.chmod(0o644)
        check.save(staging)
        for path in staging.iterdir():
            path.chmod(0o444)
        staging.rename(args.write)
        print(f"wrote {args.write} ({check.method}, threshold {check.threshold:.4f})")

    results: list[dict[str, Any]] = []
    for method, k in CANDIDATES:
        check = fit_ood_check(
            train_features=train_pooled,
            train_targets=train_targets,
            val_features=val_pooled,
            val_logits=val_logits,
            val_low_confidence=low_val,
            temperature=classifier.temperature,
            method=method,
            k=max(k, 1),
        )
        val_scores = check.scores(val_pooled, val_logits)
        out_scores = check.scores(out_pooled, out_logits)
        results.append(
            {
                "method": method,
                "k": k or None,
                "auroc": auroc(val_scores, out_scores),
                "val_abstention": check.info["validation_abstention"],
                "val_abstention_out_of_fold": check.info["validation_abstention_out_of_fold"],
                "out_abstention": float(np.mean(low_out | (out_scores > check.threshold))),
                "out_abstention_written": float(
                    np.mean((low_out | (out_scores > check.threshold))[written])
                ),
            }
        )
    # The probability threshold alone, and 1 - top probability as a score with the same rule.
    val_maxprob = 1.0 - val_probs.max(axis=1)
    out_maxprob = 1.0 - softmax(out_logits, classifier.temperature).max(axis=1)
    threshold = choose_ood_threshold(val_maxprob, low_val, 0.05)
    results.append(
        {
            "method": "1 - top probability",
            "k": None,
            "auroc": auroc(val_maxprob, out_maxprob),
            "val_abstention": float(np.mean(low_val | (val_maxprob > threshold))),
            "val_abstention_out_of_fold": out_of_fold_abstention(val_maxprob, low_val, 0.05),
            "out_abstention": float(np.mean(low_out | (out_maxprob > threshold))),
            "out_abstention_written": float(
                np.mean((low_out | (out_maxprob > threshold))[written])
            ),
        }
    )
    results.append(
        {
            "method": "probability threshold only",
            "k": None,
            "auroc": None,
            "val_abstention": float(low_val.mean()),
            "val_abstention_out_of_fold": None,
            "out_abstention": float(low_out.mean()),
            "out_abstention_written": float(low_out[written].mean()),
        }
    )
    if args.format == "json":
        print(json.dumps({"model": str(args.model), "out": str(args.out), "results": results}))
        return
    print(
        f"model {args.model.name}; out-of-scope set {args.out} (n={len(out)}, "
        f"written {int(written.sum())}); val n={len(val)}"
    )
    for row in results:

        def fmt(value: Any) -> str:
            return "   n/a" if value is None else f"{value:6.3f}"

        name = f"{row['method']}" + (f" k={row['k']}" if row["k"] else "")
        print(
            f"{name:<28} AUROC {fmt(row['auroc'])}  val abstain {fmt(row['val_abstention'])} "
            f"(out-of-fold {fmt(row['val_abstention_out_of_fold'])})  "
            f"out abstain {fmt(row['out_abstention'])} "
            f"(written {fmt(row['out_abstention_written'])})"
        )


if __name__ == "__main__":
    main()
