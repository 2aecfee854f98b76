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
``fold-<f>.json`` and its held-out outputs to ``fold-<f>.npz`` in the work directory, so that a
stopped run keeps the folds it finished and a later run into the same directory reads them back.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medconsult.ml import options
from medconsult.ml.baseline import TfidfBaseline, hybrid_logits
from medconsult.ml.data import (
    LABEL2ID,
    LABELS,
    Dataset,
    concatenate,
    data_sha256,
    default_data_paths,
    differential_class_ids,
)
from medconsult.ml.data import load_dataset as _load_dataset
from medconsult.ml.errors import SettingError
from medconsult.ml.metrics import (
    DIFFERENTIAL_THRESHOLD,
    cap_abstention_threshold,
    choose_abstention_threshold,
    choose_differential_calibration,
    classification_metrics,
    differential_metrics,
    expected_calibration_error,
    fit_temperature,
    mean_and_sd,
    per_source_metrics,
    softmax,
)
from medconsult.ml.ood import (
    DEFAULT_TARGET_ABSTENTION,
    choose_ood_threshold,
    out_of_fold_abstention,
)
from medconsult.ml.options import (
    DEFAULT_FOLDS,
    DEFAULT_HYBRID,
    DEFAULT_HYBRID_WEIGHT,
    DEFAULT_LEXICAL_FEATURES,
)


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
    row_truths = differential_class_ids(dataset)
    for name in ["overall", *dict.fromkeys(sources)]:
        rows = [i for i, source in enumerate(sources) if name in ("overall", source)]
        metrics = classification_metrics(probs[rows], targets[rows], threshold=0.0)
        entry = {
            "accuracy": metrics.accuracy,
            "macro_f1": metrics.macro_f1,
            "top3_accuracy": metrics.top3_accuracy,
        }
        with_truth = [i for i in rows if row_truths[i] is not None]
        if with_truth:
            differential = differential_metrics(
                probs[with_truth],
                targets[with_truth],
                [row_truths[i] or set() for i in with_truth],
                DIFFERENTIAL_THRESHOLD,
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


FOLD_RECORD = "fold-{}.json"  # a finished transformer fold: scores, learning curve, identity
FOLD_OUTPUTS = "fold-{}.npz"  # its held-out logits, OOD scores and targets


@dataclass(frozen=True)
class FoldOutputs:
    """The transformer's outputs on one held-out fold (rows in the fold's order)."""

    logits: np.ndarray  # uncalibrated, the transformer alone
    ood_scores: np.ndarray | None  # the fold model's OOD score per row (None: no OOD check)
    history: list[dict[str, Any]]  # per epoch, scored on the held-out fold
    seconds: float


def cv_identity(
    paths: Sequence[Path], folds: int, seed: int, settings: dict[str, Any]
) -> dict[str, Any]:
    """What makes two folds' results parts of one cross-validation: the data (by content), the
    folds, the seed and the training recipe (``options.RECIPE`` with ``settings`` applied)."""
    return {
        "data_sha256": [data_sha256(path) for path in paths],
        "folds": folds,
        "seed": seed,
        "recipe": {**options.RECIPE, **settings},
    }


def _fold_training_config(settings: dict[str, Any], out: Path) -> Any:
    from medconsult.ml.train import TrainConfig

    # The transformer alone: the hybrid is formed here from the fold's own TF-IDF baseline
    # (fitted on the same rows as training's would be), so both are reported.
    return TrainConfig(out=out, select_epoch=False, progress=False, **{**settings, "hybrid": False})


def _outputs_of_artifact(artifact: Path, test_set: Dataset, seconds: float) -> FoldOutputs:
    """A fold model's logits and OOD scores on its held-out rows, and its learning curve."""
    from medconsult.ml.predict import Classifier

    classifier = Classifier.load(artifact, device="cpu", precision="fp32", max_text_chars=10**9)
    logits, ood_scores = classifier.logits_and_ood_scores(list(test_set.texts))
    history = json.loads((artifact / "metrics.json").read_text(encoding="utf-8"))["history"]
    return FoldOutputs(logits, ood_scores, history, seconds)


def _train_fold(
    train_set: Dataset, test_set: Dataset, settings: dict[str, Any], fold: int, work: Path
) -> FoldOutputs:
    """Train the transformer on the fold's training rows (its LAST epoch is the model)."""
    from medconsult.ml.train import train

    started = time.monotonic()
    artifact = train(
        _fold_training_config(settings, work / f"fold-{fold}"), split=(train_set, test_set)
    )
    return _outputs_of_artifact(artifact, test_set, round(time.monotonic() - started, 1))


def _save_fold(
    work: Path,
    fold: int,
    identity: dict[str, Any],
    outputs: FoldOutputs,
    targets: np.ndarray,
    scores: dict[str, Any],
) -> None:
    """The fold's outputs, then its record (written last: a record means a finished fold)."""
    with (work / FOLD_OUTPUTS.format(fold)).open("wb") as handle:
        np.savez(
            handle,
            logits=outputs.logits,
            targets=targets,
            # empty: the fold model has no OOD check
            ood_scores=np.zeros(0) if outputs.ood_scores is None else outputs.ood_scores,
        )
    record = {
        "fold": fold,
        "identity": identity,
        "n_heldout": len(targets),
        "seconds": outputs.seconds,
        **scores,
        "history": outputs.history,
    }
    (work / FOLD_RECORD.format(fold)).write_text(
        json.dumps(record, indent=2) + "\n", encoding="utf-8"
    )


# Settings that change how a fold's held-out logits are combined with a TF-IDF half, not the
# fold model itself (fold models are the transformer alone): a fold record serves any of them.
HYBRID_ONLY = frozenset({"hybrid", "lexical_features", "hybrid_weight"})


def _fold_model_identity(identity: dict[str, Any] | None) -> dict[str, Any] | None:
    """``identity`` without the recipe's ``HYBRID_ONLY`` settings."""
    if identity is None:
        return None
    recipe = {k: v for k, v in identity.get("recipe", {}).items() if k not in HYBRID_ONLY}
    return {**identity, "recipe": recipe}


def _stored_fold(
    work: Path, fold: int, identity: dict[str, Any], test_set: Dataset
) -> FoldOutputs | None:
    """The fold's outputs from an earlier run into the same work directory, or None.

    A record of another cross-validation (other data, folds, seed or settings of the fold
    model) is refused rather than mixed in. A fold model left without a record (a run stopped
    after training it) is scored again from its artifact."""
    record_path = work / FOLD_RECORD.format(fold)
    record: dict[str, Any] = {}
    fold_model = _fold_model_identity(identity)
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("identity") is not None and (
            _fold_model_identity(record["identity"]) != fold_model
        ):
            raise SettingError(
                f"{record_path} belongs to another cross-validation (data, folds, seed or "
                "settings differ); use another --work-dir"
            )
    outputs_path = work / FOLD_OUTPUTS.format(fold)
    if _fold_model_identity(record.get("identity")) == fold_model and outputs_path.is_file():
        with np.load(outputs_path, allow_pickle=False) as arrays:
            if not np.array_equal(arrays["targets"], _targets(test_set)):
                raise SettingError(f"{outputs_path}: its rows are not this fold's")
            ood_scores = np.asarray(arrays["ood_scores"])
            return FoldOutputs(
                np.asarray(arrays["logits"]),
                ood_scores if len(ood_scores) == len(test_set) else None,
                list(record["history"]),
                float(record.get("seconds", 0.0)),
            )
    artifact = work / f"fold-{fold}"
    if (artifact / "training_args.json").is_file():
        args = json.loads((artifact / "training_args.json").read_text(encoding="utf-8"))
        if args.get("n_val") != len(test_set) or any(
            args.get(key) != value
            for key, value in identity["recipe"].items()
            if key not in HYBRID_ONLY
        ):
            raise SettingError(f"{artifact} was trained with other settings or rows")
        return _outputs_of_artifact(artifact, test_set, float(record.get("seconds", 0.0)))
    return None


def out_of_fold_calibration(
    served_logits: Sequence[np.ndarray],
    ood_scores: Sequence[np.ndarray | None],
    test_sets: Sequence[Dataset],
    target_abstention: float = DEFAULT_TARGET_ABSTENTION,
) -> dict[str, Any]:
    """What the final model (trained on every row) is served with, fitted on the out-of-fold
    predictions of all k fold models: temperature, abstention threshold, the differential's
    temperature and threshold, the OOD threshold; and the out-of-fold figures at those
    settings, which stand for the final model's validation figures."""
    logits = np.concatenate(served_logits)
    targets = np.concatenate([_targets(test_set) for test_set in test_sets])
    sources = [test_set.source_of(i) for test_set in test_sets for i in range(len(test_set))]
    truths = [truth for test_set in test_sets for truth in differential_class_ids(test_set)]
    temperature = fit_temperature(logits, targets)
    probs = softmax(logits, temperature)
    threshold = cap_abstention_threshold(
        probs, choose_abstention_threshold(probs, targets), target_abstention
    )
    low_confidence = probs.max(axis=1) < threshold
    ood_threshold: float | None = None
    ood_rate = 0.0
    abstained = low_confidence
    # The OOD threshold is chosen on these same rows, so their abstention meets the budget by
    # construction; the cross-fitted figure (threshold chosen on the other parts) is the honest
    # one.
    cross_fitted: float | None = float(np.mean(low_confidence))
    if all(scores is not None for scores in ood_scores):
        scores = np.concatenate([s for s in ood_scores if s is not None])
        ood_threshold = choose_ood_threshold(scores, low_confidence, target_abstention)
        ood_rate = float(np.mean(scores > ood_threshold))
        abstained = low_confidence | (scores > ood_threshold)
        rate = out_of_fold_abstention(scores, low_confidence, target_abstention)
        cross_fitted = None if np.isnan(rate) else rate
    diff_rows = [i for i, truth in enumerate(truths) if truth is not None]
    differential_temperature, differential_threshold = choose_differential_calibration(
        logits[diff_rows], targets[diff_rows], [truths[i] or set() for i in diff_rows], temperature
    )
    return {
        "temperature": temperature,
        "threshold": threshold,
        "differential_temperature": differential_temperature,
        "differential_threshold": differential_threshold,
        "ood_threshold": ood_threshold,
        "target_abstention": target_abstention,
        "n": len(targets),
        "metrics": classification_metrics(probs, targets, threshold).to_dict(),
        "metrics_uncalibrated": classification_metrics(
            softmax(logits), targets, threshold=0.0
        ).to_dict(),
        "per_source": per_source_metrics(
            probs,
            targets,
            sources,
            truths,
            threshold=threshold,
            differential_threshold=differential_threshold,
            differential_probs=softmax(logits, differential_temperature),
        ),
        "abstention": float(np.mean(abstained)),
        "abstention_cross_fitted": cross_fitted,
        "ood_rate": ood_rate,
    }


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
    folds ``model_fold_ids`` if given, else on the first ``model_folds`` (default: all); folds
    finished earlier in ``work_dir`` are read back instead of trained again, and join the
    report. With every fold's transformer the report holds ``final_calibration``
    (``out_of_fold_calibration``) for ``medconsult train --calibration-from``."""
    parts = [_load_dataset(path) for path in paths]
    splits = cv_splits(parts, folds, seed)
    if model_fold_ids is not None:
        unknown = sorted(set(model_fold_ids) - set(range(folds)))
        if unknown:
            raise SettingError(f"folds {unknown} out of range: there are {folds} (0-{folds - 1})")
        transformer_folds = sorted(set(model_fold_ids))
    else:
        transformer_folds = list(range(folds if model_folds is None else min(model_folds, folds)))
    settings = dict(overrides or {})
    served_hybrid = bool(settings.get("hybrid", DEFAULT_HYBRID))
    lexical_features = str(settings.get("lexical_features", DEFAULT_LEXICAL_FEATURES))
    hybrid_weight = float(settings.get("hybrid_weight", DEFAULT_HYBRID_WEIGHT))
    identity = cv_identity(paths, folds, seed, settings)
    work = Path(work_dir or tempfile.mkdtemp(prefix="medconsult-cv-"))
    work.mkdir(parents=True, exist_ok=True)
    baseline_scores, baseline_logits, targets = [], [], []
    model_ids: list[int] = []
    model_outputs: list[FoldOutputs] = []
    model_scores: list[dict[str, dict[str, float]]] = []
    hybrid_scores: list[dict[str, dict[str, float]]] = []
    hybrid_logits_per_fold: list[np.ndarray] = []
    for fold, (train_set, test_set) in enumerate(splits):
        baseline = TfidfBaseline(len(LABELS)).fit(train_set.texts, _targets(train_set).tolist())
        probs = baseline.predict_proba(test_set.texts)
        baseline_scores.append(fold_scores(probs, test_set))
        baseline_logits.append(np.log(np.clip(probs, 1e-12, None)))
        targets.append(_targets(test_set))
        print(f"fold {fold}: baseline {baseline_scores[-1]['overall']}", file=sys.stderr)
        outputs = _stored_fold(work, fold, identity, test_set)
        if outputs is None and fold in transformer_folds:
            outputs = _train_fold(train_set, test_set, settings, fold, work)
        if outputs is None:
            continue
        model_ids.append(fold)
        model_outputs.append(outputs)
        model_scores.append(fold_scores(softmax(outputs.logits), test_set))
        # The hybrid: the mean of the transformer's probabilities and those of its TF-IDF half
        # (the baseline itself when that reads words only) fitted on the same fold.
        half_probs = (
            probs
            if lexical_features == "word"
            else TfidfBaseline(len(LABELS), lexical_features)
            .fit(train_set.texts, _targets(train_set).tolist())
            .predict_proba(test_set.texts)
        )
        hybrid = hybrid_logits(outputs.logits, half_probs, hybrid_weight)
        hybrid_scores.append(fold_scores(softmax(hybrid), test_set))
        hybrid_logits_per_fold.append(hybrid)
        _save_fold(
            work,
            fold,
            identity,
            outputs,
            targets[-1],
            {
                "model": model_scores[-1],
                "hybrid_mean_of_probabilities": hybrid_scores[-1],
                "baseline_tfidf_logreg": baseline_scores[-1],
            },
        )
        print(f"fold {fold}: model {model_scores[-1]['overall']}", file=sys.stderr)
    report: dict[str, Any] = {
        "folds": folds,
        "seed": seed,
        "data": [str(path) for path in paths],
        "identity": identity,
        "n_rows": sum(len(part) for part in parts),
        "differential_threshold": DIFFERENTIAL_THRESHOLD,
        "baseline_tfidf_logreg": {
            "per_fold": baseline_scores,
            "summary": summarise(baseline_scores),
            "calibration": cross_fitted_ece(baseline_logits, targets),
        },
    }
    if not model_scores:
        return report
    model_targets = [targets[fold] for fold in model_ids]
    report["model"] = {
        "folds_run": len(model_scores),
        "fold_ids": model_ids,
        "settings": settings,
        "per_fold": model_scores,
        "summary": summarise(model_scores),
        "calibration": cross_fitted_ece([o.logits for o in model_outputs], model_targets),
        "baseline_same_folds": summarise([baseline_scores[fold] for fold in model_ids]),
        "epoch_curve": epoch_curve([outputs.history for outputs in model_outputs]),
        "seconds_per_fold": [outputs.seconds for outputs in model_outputs],
        # What the product serves by default (``options.DEFAULT_HYBRID``).
        "hybrid_mean_of_probabilities": {
            "lexical_features": lexical_features,
            "transformer_weight": hybrid_weight,
            "per_fold": hybrid_scores,
            "summary": summarise(hybrid_scores),
            "calibration": cross_fitted_ece(hybrid_logits_per_fold, model_targets),
        },
    }
    if model_ids == list(range(folds)):
        served = hybrid_logits_per_fold if served_hybrid else [o.logits for o in model_outputs]
        report["final_calibration"] = {
            "served": "hybrid" if served_hybrid else "transformer",
            "baseline_tfidf_logreg": classification_metrics(
                softmax(np.concatenate(baseline_logits)),
                np.concatenate(targets),
                threshold=0.0,
            ).to_dict(),
            **out_of_fold_calibration(
                served, [o.ood_scores for o in model_outputs], [test for _, test in splits]
            ),
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
            hybrid = report[name]["hybrid_mean_of_probabilities"]
            lines.append(
                "  hybrid (weighted mean of the model's and a TF-IDF + LR model's probabilities, "
                f"model weight {hybrid.get('transformer_weight', 0.5)}, "
                f"{hybrid.get('lexical_features', 'word')} features):"
            )
            lines += _summary_lines(hybrid["summary"])
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
    final = report.get("final_calibration")
    if final:
        served = final["metrics"]
        lines.append(
            f"final calibration ({final['served']}, out-of-fold, n={final['n']}): temperature "
            f"{final['temperature']:.3f}, threshold {final['threshold']:.3f}, OOD threshold "
            f"{final['ood_threshold']}, differential {final['differential_threshold']} at "
            f"temperature {final['differential_temperature']}; accuracy {served['accuracy']:.4f}, "
            f"macro-F1 {served['macro_f1']:.4f}, ECE {served['ece']:.4f}, abstention "
            f"{final['abstention']:.3f} (medconsult train --calibration-from <this report>)"
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
    if args.lexical_features is not None:
        overrides["lexical_features"] = args.lexical_features
    if args.hybrid_weight is not None:
        overrides["hybrid_weight"] = args.hybrid_weight
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
