"""k-fold cross-validation on the training rows: the model and the TF-IDF baseline, same folds.

    medconsult cv [--data PATH ...] [--folds 5] [--seed 42] [--model-folds N | --model-fold F ...]
                  [--epochs N] [--work-dir DIR] [--out report.json]

Protocol (issue "a training protocol that generalises"): every data file is cut into ``k``
stratified folds on its own (fixed seed, ``kfold_indices``); fold ``f`` of the combined data is
fold ``f`` of every file. For each fold the TF-IDF + logistic-regression baseline and (for the
first ``--model-folds`` folds, or the folds named by ``--model-fold``; all by default) the
transformer are trained on the other folds with the same settings and scored on the held-out one,
the transformer with its LAST epoch (nothing is chosen on the held-out fold). Reported per source
and overall: mean and sample standard deviation over folds of accuracy, macro-F1, top-3 accuracy
and, for structured cases, GTPA@1 and DDF1. From the out-of-fold logits: the temperature (fitted on
the other folds' out-of-fold rows, so the ECE of each fold is honest) and the ECE of the calibrated
out-of-fold probabilities; the final model's temperature and abstention threshold are then fitted
on all out-of-fold rows.

A transformer fold costs half an hour on a 2-core CPU, so folds may run apart (``--model-fold``,
on several machines or days): as each one ends, its scores and learning curve are written to
``fold-<f>.json`` in the work directory, so that a stopped run keeps the folds it finished.

Torch is imported only for the transformer folds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medconsult.ml import options
from medconsult.ml.baseline import TfidfBaseline, hybrid_logits
from medconsult.ml.data import LABEL2ID, LABELS, Dataset, concatenate, default_data_paths
from medconsult.ml.data import load_dataset as _load_dataset
from medconsult.ml.errors import SettingError
from medconsult.ml.metrics import (
    DIFFERENTIAL_THRESHOLD,
    cap_abstention_threshold,
    choose_abstention_threshold,
    classification_metrics,
    differential_metrics,
    expected_calibration_error,
    fit_temperature,
    mean_and_sd,
    softmax,
)
from medconsult.ml.ood import DEFAULT_TARGET_ABSTENTION
from medconsult.ml.options import DEFAULT_FOLDS


def kfold_indices(labels: Sequence[str | None], k: int, seed: int) -> list[list[int]]:
    """``k`` stratified folds of row indices: each label's rows shuffled (``random.Random``)
    and dealt round-robin, continuing across labels so fold sizes stay within one row."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label["" if label is None else label].append(index)
    folds: list[list[int]] = [[] for _ in range(k)]
    position = 0
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        for index in indices:
            folds[position % k].append(index)
            position += 1
    return [sorted(fold) for fold in folds]


def cv_splits(parts: Sequence[Dataset], k: int, seed: int) -> list[tuple[Dataset, Dataset]]:
    """(training rows, held-out rows) of each fold, every file folded on its own."""
    per_part = [kfold_indices(part.labels, k, seed) for part in parts]
    splits = []
    for fold in range(k):
        trains, tests = [], []
        for part, folds in zip(parts, per_part, strict=True):
            held = set(folds[fold])
            tests.append(part.subset(folds[fold]))
            trains.append(part.subset([i for i in range(len(part)) if i not in held]))
        splits.append((concatenate(trains), concatenate(tests)))
    return splits


def _targets(dataset: Dataset) -> np.ndarray:
    return np.array([LABEL2ID[str(label)] for label in dataset.labels], dtype=np.int64)


def fold_scores(probs: np.ndarray, dataset: Dataset) -> dict[str, dict[str, float]]:
    """Per source and overall: accuracy, macro-F1, top-3 and, with differentials, GTPA@1/DDF1."""
    targets = _targets(dataset)
    sources = [dataset.source_of(i) for i in range(len(dataset))]
    scores: dict[str, dict[str, float]] = {}
    for name in ["overall", *dict.fromkeys(sources)]:
        rows = [i for i, source in enumerate(sources) if name in ("overall", source)]
        metrics = classification_metrics(probs[rows], targets[rows], threshold=0.0)
        entry = {
            "accuracy": metrics.accuracy,
            "macro_f1": metrics.macro_f1,
            "top3_accuracy": metrics.top3_accuracy,
        }
        with_truth = [i for i in rows if dataset.differential_of(i)]
        if with_truth:
            truths = [
                {LABEL2ID[key] for key, _ in dataset.differential_of(i) or ()} for i in with_truth
            ]
            differential = differential_metrics(
                probs[with_truth], targets[with_truth], truths, DIFFERENTIAL_THRESHOLD
            )
            entry["gtpa_at_1"] = differential.gtpa_at_1
            entry["ddf1"] = differential.ddf1
        scores[name] = entry
    return scores


def summarise(per_fold: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Mean and sd over folds of every metric of every source."""
    summary: dict[str, dict[str, Any]] = {}
    for source in per_fold[0]:
        summary[source] = {
            metric: mean_and_sd([fold[source][metric] for fold in per_fold])
            for metric in per_fold[0][source]
        }
    return summary


def cross_fitted_ece(
    logits_per_fold: list[np.ndarray], targets_per_fold: list[np.ndarray]
) -> dict[str, Any]:
    """ECE of each fold's out-of-fold probabilities with the temperature fitted on the OTHER
    folds' out-of-fold rows; and the temperature and threshold fitted on all of them."""
    eces = []
    for fold, (logits, targets) in enumerate(zip(logits_per_fold, targets_per_fold, strict=True)):
        others = [i for i in range(len(logits_per_fold)) if i != fold]
        if others:
            temperature = fit_temperature(
                np.concatenate([logits_per_fold[i] for i in others]),
                np.concatenate([targets_per_fold[i] for i in others]),
            )
        else:
            temperature = fit_temperature(logits, targets)
        eces.append(expected_calibration_error(softmax(logits, temperature), targets))
    all_logits = np.concatenate(logits_per_fold)
    all_targets = np.concatenate(targets_per_fold)
    temperature = fit_temperature(all_logits, all_targets)
    probs = softmax(all_logits, temperature)
    return {
        "ece_per_fold": mean_and_sd(eces),
        "ece_pooled": expected_calibration_error(probs, all_targets),
        "ece_uncalibrated": expected_calibration_error(softmax(all_logits), all_targets),
        "temperature": temperature,
        "threshold": cap_abstention_threshold(
            probs, choose_abstention_threshold(probs, all_targets), DEFAULT_TARGET_ABSTENTION
        ),
        "n": len(all_targets),
    }


def _model_fold_logits(
    train_set: Dataset, test_set: Dataset, overrides: dict[str, Any], fold: int, out: Path
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The held-out fold's logits (last epoch) and the training history, whose per-epoch
    scores on the held-out fold give the cross-validated learning curve."""
    from medconsult.ml.predict import Classifier
    from medconsult.ml.train import TrainConfig, train

    # The transformer alone: the hybrid is formed here from the fold's own TF-IDF baseline
    # (fitted on the same rows as training's would be), so both are reported.
    config = TrainConfig(
        out=out / f"fold-{fold}",
        select_epoch=False,
        progress=False,
        **{**overrides, "hybrid": False},
    )
    artifact = train(config, split=(train_set, test_set))
    classifier = Classifier.load(artifact, device="cpu", precision="fp32", max_text_chars=10**9)
    logits: np.ndarray = classifier.logits(list(test_set.texts))
    history: list[dict[str, Any]] = json.loads((artifact / "metrics.json").read_text())["history"]
    return logits, history


def epoch_curve(histories: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per epoch, mean and sd over folds of the held-out macro-F1, accuracy and loss: how many
    epochs the schedule needs, measured on held-out folds rather than one validation split."""
    epochs = min((len(history) for history in histories), default=0)
    return [
        {
            "epoch": epoch + 1,
            **{
                key: mean_and_sd([float(history[epoch][key]) for history in histories])
                for key in ("val_macro_f1", "val_accuracy", "val_loss")
            },
        }
        for epoch in range(epochs)
    ]


def run_cv(
    paths: Sequence[Path],
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int = 42,
    model_folds: int | None = None,
    model_fold_ids: Sequence[int] | None = None,
    overrides: dict[str, Any] | None = None,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """The cross-validation report (see the module docstring). The transformer runs on the
    folds ``model_fold_ids`` if given, else on the first ``model_folds`` (default: all)."""
    parts = [_load_dataset(path) for path in paths]
    splits = cv_splits(parts, folds, seed)
    if model_fold_ids is not None:
        unknown = sorted(set(model_fold_ids) - set(range(folds)))
        if unknown:
            raise SettingError(f"folds {unknown} out of range: there are {folds} (0-{folds - 1})")
        transformer_folds = sorted(set(model_fold_ids))
    else:
        transformer_folds = list(range(folds if model_folds is None else min(model_folds, folds)))
    work = Path(work_dir or tempfile.mkdtemp(prefix="medconsult-cv-"))
    work.mkdir(parents=True, exist_ok=True)
    baseline_scores, model_scores = [], []
    baseline_logits, model_logits, targets, model_targets = [], [], [], []
    histories: list[list[dict[str, Any]]] = []
    hybrid_scores: list[dict[str, dict[str, float]]] = []
    hybrid_logits_per_fold: list[np.ndarray] = []
    for fold, (train_set, test_set) in enumerate(splits):
        baseline = TfidfBaseline(len(LABELS)).fit(train_set.texts, _targets(train_set).tolist())
        probs = baseline.predict_proba(test_set.texts)
        baseline_scores.append(fold_scores(probs, test_set))
        baseline_logits.append(np.log(np.clip(probs, 1e-12, None)))
        targets.append(_targets(test_set))
        print(f"fold {fold}: baseline {baseline_scores[-1]['overall']}", file=sys.stderr)
        if fold in transformer_folds:
            started = time.monotonic()
            logits, history = _model_fold_logits(
                train_set, test_set, dict(overrides or {}), fold, work
            )
            histories.append(history)
            model_scores.append(fold_scores(softmax(logits), test_set))
            # The hybrid: the mean of the two models' probabilities on the same fold.
            hybrid = hybrid_logits(logits, probs)
            hybrid_scores.append(fold_scores(softmax(hybrid), test_set))
            hybrid_logits_per_fold.append(hybrid)
            model_logits.append(logits)
            model_targets.append(targets[-1])
            record = {
                "fold": fold,
                "folds": folds,
                "seed": seed,
                "data": [str(path) for path in paths],
                "settings": dict(overrides or {}),
                "n_heldout": len(test_set),
                "seconds": round(time.monotonic() - started, 1),
                "model": model_scores[-1],
                "hybrid_mean_of_probabilities": hybrid_scores[-1],
                "baseline_tfidf_logreg": baseline_scores[-1],
                "history": history,
            }
            (work / f"fold-{fold}.json").write_text(
                json.dumps(record, indent=2) + "\n", encoding="utf-8"
            )
            print(f"fold {fold}: model {model_scores[-1]['overall']}", file=sys.stderr)
    report: dict[str, Any] = {
        "folds": folds,
        "seed": seed,
        "data": [str(path) for path in paths],
        "n_rows": sum(len(part) for part in parts),
        "differential_threshold": DIFFERENTIAL_THRESHOLD,
        "baseline_tfidf_logreg": {
            "per_fold": baseline_scores,
            "summary": summarise(baseline_scores),
            "calibration": cross_fitted_ece(baseline_logits, targets),
        },
    }
    if model_scores:
        report["model"] = {
            "folds_run": len(model_scores),
            "fold_ids": transformer_folds,
            "settings": dict(overrides or {}),
            "per_fold": model_scores,
            "summary": summarise(model_scores),
            "calibration": cross_fitted_ece(model_logits, model_targets),
            "baseline_same_folds": summarise([baseline_scores[f] for f in transformer_folds]),
            "epoch_curve": epoch_curve(histories),
            # What the product serves by default (``options.DEFAULT_HYBRID``).
            "hybrid_mean_of_probabilities": {
                "per_fold": hybrid_scores,
                "summary": summarise(hybrid_scores),
                "calibration": cross_fitted_ece(hybrid_logits_per_fold, model_targets),
            },
        }
    return report


def _summary_lines(summary: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"  {source}: "
        + ", ".join(
            f"{metric} {value['mean']:.4f} ± {value['sd']:.4f}" for metric, value in metrics.items()
        )
        for source, metrics in summary.items()
    ]


def format_summary(report: dict[str, Any]) -> str:
    lines = [
        f"{report['folds']}-fold cross-validation, seed {report['seed']}, n={report['n_rows']}"
    ]
    for name in ("model", "baseline_tfidf_logreg"):
        if name not in report:
            continue
        lines.append(f"{name}:")
        lines += _summary_lines(report[name]["summary"])
        if "hybrid_mean_of_probabilities" in report[name]:
            lines.append("  hybrid (mean of the model's and the baseline's probabilities):")
            lines += _summary_lines(report[name]["hybrid_mean_of_probabilities"]["summary"])
        calibration = report[name]["calibration"]
        lines.append(
            f"  out-of-fold ECE {calibration['ece_per_fold']['mean']:.4f} ± "
            f"{calibration['ece_per_fold']['sd']:.4f} (uncalibrated "
            f"{calibration['ece_uncalibrated']:.4f}), temperature "
            f"{calibration['temperature']:.3f}, threshold {calibration['threshold']:.3f}"
        )
        for point in report[name].get("epoch_curve", []):
            lines.append(
                f"  epoch {point['epoch']}: held-out macro-F1 "
                f"{point['val_macro_f1']['mean']:.4f} ± {point['val_macro_f1']['sd']:.4f}, "
                f"loss {point['val_loss']['mean']:.4f}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.learning_rate is not None:
        overrides["learning_rate"] = args.learning_rate
    if args.max_length is not None:
        overrides["max_length"] = args.max_length
    report = run_cv(
        tuple(args.data) if args.data else default_data_paths(),
        folds=args.folds,
        seed=args.seed,
        model_folds=args.model_folds,
        model_fold_ids=args.model_fold,
        overrides=overrides,
        work_dir=args.work_dir,
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_summary(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return options.main("cv", __doc__, options.add_cv_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
