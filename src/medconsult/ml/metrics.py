"""Classification and calibration metrics on numpy arrays (torch-free).

Shared by train (metrics.json, temperature and threshold fitting) and evaluate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medconsult.ml.records import JsonRecord

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

ECE_BINS = 15  # equal-width confidence bins, the usual choice (Guo et al., 2017)


def softmax(logits: FloatArray, temperature: float = 1.0) -> FloatArray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    result: FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return result


def expected_calibration_error(probs: FloatArray, targets: IntArray, bins: int = ECE_BINS) -> float:
    """Top-1 ECE: bin-size-weighted mean |accuracy - confidence| over equal-width bins."""
    if len(targets) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def reliability_bins(
    probs: FloatArray, targets: IntArray, bins: int = ECE_BINS
) -> list[dict[str, float]]:
    """Per-bin mean confidence, accuracy and count, for reliability diagrams."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for low, high in itertools.pairwise(edges):
        in_bin = (confidence > low) & (confidence <= high)
        count = int(in_bin.sum())
        rows.append(
            {
                "low": float(low),
                "high": float(high),
                "count": float(count),
                "confidence": float(confidence[in_bin].mean()) if count else 0.0,
                "accuracy": float(correct[in_bin].mean()) if count else 0.0,
            }
        )
    return rows


def negative_log_likelihood(logits: FloatArray, targets: IntArray, temperature: float) -> float:
    probs = softmax(logits, temperature)
    picked = probs[np.arange(len(targets)), targets]
    return float(-np.log(np.clip(picked, 1e-12, None)).mean())


def fit_temperature(logits: FloatArray, targets: IntArray) -> float:
    """Temperature minimising validation NLL (Guo et al., 2017).

    A 1-D problem, solved by a coarse log-spaced grid then golden-section refinement; no torch
    needed and deterministic. Bounded to [0.05, 20] so a tiny validation set cannot produce an
    absurd value.
    """
    if len(targets) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))
    losses = [negative_log_likelihood(logits, targets, float(t)) for t in grid]
    best = int(np.argmin(losses))
    low = float(np.log(grid[max(best - 1, 0)]))
    high = float(np.log(grid[min(best + 1, len(grid) - 1)]))
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        a = high - ratio * (high - low)
        b = low + ratio * (high - low)
        if negative_log_likelihood(logits, targets, float(np.exp(a))) < negative_log_likelihood(
            logits, targets, float(np.exp(b))
        ):
            high = b
        else:
            low = a
    return float(np.exp((low + high) / 2.0))


# Abstention rule: the LOWEST top-1 probability threshold such that, on validation, the
# predictions at or above it are at least this precise. Lowest = answer as often as possible.
TARGET_PRECISION = 0.99


def choose_abstention_threshold(
    probs: FloatArray, targets: IntArray, target_precision: float = TARGET_PRECISION
) -> float:
    """Smallest threshold t (0 or one of the observed top-1 probabilities) such that the
    precision of predictions with top-1 probability >= t is >= ``target_precision``.

    If no threshold reaches the target, the one with the best precision is used (ties: lowest).
    """
    if len(targets) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    best_threshold, best_precision = 0.0, -1.0
    for threshold in [0.0, *sorted(set(confidence.tolist()))]:
        answered = confidence >= threshold
        if not answered.any():
            break
        precision = float(correct[answered].mean())
        if precision >= target_precision:
            return float(threshold)
        if precision > best_precision:
            best_threshold, best_precision = float(threshold), precision
    return best_threshold


def cap_abstention_threshold(probs: FloatArray, threshold: float, max_abstention: float) -> float:
    """``threshold`` lowered, where needed, so that at most ``max_abstention`` of these rows have
    a top-1 probability below it.

    The precision rule alone can set aside a fifth of in-scope cases when the model is unsure of
    many of them; the abstention budget (issue: at most 5 % of in-scope cases) bounds it. The
    result is 0 or one of the observed top-1 probabilities, like the precision rule's.
    """
    if len(probs) == 0:
        return threshold
    confidence = np.sort(probs.max(axis=1))
    allowed = int(np.floor(max_abstention * len(confidence) + 1e-9))  # rows that may abstain
    if allowed >= len(confidence):
        return threshold
    # Rows strictly below confidence[allowed] abstain: at most ``allowed`` of them.
    highest = float(confidence[allowed]) if allowed > 0 else 0.0
    return min(threshold, highest)


@dataclass(frozen=True)
class Metrics(JsonRecord):
    n: int
    accuracy: float
    macro_f1: float
    top3_accuracy: float
    ece: float
    abstain_rate: float
    precision_when_answered: float


def macro_f1(predictions: IntArray, targets: IntArray, n_classes: int) -> float:
    """Macro-F1 over the classes present in targets or predictions (sklearn's convention)."""
    present = np.union1d(np.unique(targets), np.unique(predictions))
    scores = []
    for label in present:
        tp = float(((predictions == label) & (targets == label)).sum())
        fp = float(((predictions == label) & (targets != label)).sum())
        fn = float(((predictions != label) & (targets == label)).sum())
        denominator = 2 * tp + fp + fn
        scores.append(2 * tp / denominator if denominator else 0.0)
    del n_classes  # kept in the signature to make the class space explicit at call sites
    return float(np.mean(scores)) if scores else 0.0


def classification_metrics(probs: FloatArray, targets: IntArray, threshold: float) -> Metrics:
    """Metrics of calibrated probabilities against integer targets."""
    n = len(targets)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    predictions = probs.argmax(axis=1)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    answered = probs.max(axis=1) >= threshold
    correct = predictions == targets
    return Metrics(
        n=n,
        accuracy=float(correct.mean()),
        macro_f1=macro_f1(predictions, targets, probs.shape[1]),
        top3_accuracy=float((top3 == targets[:, None]).any(axis=1).mean()),
        ece=expected_calibration_error(probs, targets),
        abstain_rate=float(1.0 - answered.mean()),
        precision_when_answered=float(correct[answered].mean()) if answered.any() else 0.0,
    )


def precision_comparison(
    reference: FloatArray, other: FloatArray, targets: IntArray, threshold: float
) -> dict[str, Any]:
    """Metrics of ``other`` (calibrated probabilities of the same model at another numeric
    precision, bf16 or int8) with its top-1 agreement with ``reference`` (full precision) and
    the largest probability difference between them."""
    empty = len(targets) == 0
    return {
        **classification_metrics(other, targets, threshold).to_dict(),
        "agreement_with_fp32": 0.0
        if empty
        else float((other.argmax(1) == reference.argmax(1)).mean()),
        "max_abs_probability_difference": 0.0 if empty else float(np.abs(other - reference).max()),
    }


# --- differential diagnosis (DDXPlus) ------------------------------------------------------------
# As in Fansi Tchango et al., "DDXPlus: A New Dataset For Automatic Medical Diagnosis" (NeurIPS
# 2022 Datasets and Benchmarks), section 5:
# - GTPA@k: the ground-truth pathology is among the k most probable classes (GTPA@1: top-1).
# - The predicted differential of a case is the SET of classes whose predicted probability is at
#   least ``DIFFERENTIAL_THRESHOLD``; the ground-truth differential is the set of pathologies of
#   the case's differential (``top5_diagnoses``: probabilities are not used, only membership).
# - DDR (recall) = |predicted ∩ truth| / |truth|; DDP (precision) = |predicted ∩ truth| /
#   |predicted| (0 for an empty prediction); DDF1 = 2 DDR DDP / (DDR + DDP) (0 when both are 0),
#   each computed PER CASE and then averaged over the cases (so DDF1 is the mean of per-case F1,
#   not the F1 of the mean recall and precision).
# - GTPA: the ground-truth pathology is in the predicted differential.
# The threshold is the paper's 0.01: a class with less than 1% probability is not offered.
DIFFERENTIAL_THRESHOLD = 0.01


@dataclass(frozen=True)
class DifferentialMetrics(JsonRecord):
    n: int
    gtpa_at_1: float
    gtpa_at_3: float
    gtpa_at_5: float
    gtpa: float
    ddr: float
    ddp: float
    ddf1: float
    mean_differential_size: float
    threshold: float


def top_k_accuracy(probs: FloatArray, targets: IntArray, k: int) -> float:
    """Share of rows whose target is among their ``k`` most probable classes."""
    if len(targets) == 0:
        return 0.0
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float((top == targets[:, None]).any(axis=1).mean())


def predicted_differential(
    probs: FloatArray, threshold: float = DIFFERENTIAL_THRESHOLD
) -> list[set[int]]:
    """Per row, the classes with probability >= ``threshold``."""
    return [set(np.flatnonzero(row >= threshold).tolist()) for row in probs]


def differential_metrics(
    probs: FloatArray,
    targets: IntArray,
    truths: list[set[int]],
    threshold: float = DIFFERENTIAL_THRESHOLD,
) -> DifferentialMetrics:
    """GTPA@1/3/5, GTPA, DDR, DDP and DDF1 (definitions above) of ``probs`` against the
    ground-truth pathologies ``targets`` and differentials ``truths`` (sets of class ids)."""
    n = len(targets)
    if n == 0:
        return DifferentialMetrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, threshold)
    predicted = predicted_differential(probs, threshold)
    recalls, precisions, f1s = [], [], []
    for guess, truth in zip(predicted, truths, strict=True):
        hits = len(guess & truth)
        recall = hits / len(truth) if truth else 0.0
        precision = hits / len(guess) if guess else 0.0
        recalls.append(recall)
        precisions.append(precision)
        f1s.append(2 * recall * precision / (recall + precision) if recall + precision else 0.0)
    return DifferentialMetrics(
        n=n,
        gtpa_at_1=top_k_accuracy(probs, targets, 1),
        gtpa_at_3=top_k_accuracy(probs, targets, 3),
        gtpa_at_5=top_k_accuracy(probs, targets, 5),
        gtpa=float(np.mean([int(t) in g for t, g in zip(targets, predicted, strict=True)])),
        ddr=float(np.mean(recalls)),
        ddp=float(np.mean(precisions)),
        ddf1=float(np.mean(f1s)),
        mean_differential_size=float(np.mean([len(g) for g in predicted])),
        threshold=threshold,
    )


def mean_and_sd(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value) of fold scores."""
    array = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(array.mean()) if len(array) else 0.0,
        "sd": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
        "n": float(len(array)),
    }


DIFFERENTIAL_THRESHOLD_GRID = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2)


# Temperatures tried for the differential besides the calibration one. The calibration
# temperature sharpens the top-1 probability (it is fitted to the top label), which can squeeze a
# differential trained on DDXPlus' soft targets to one class; the differential may keep a softer
# distribution, chosen with its threshold for DDF1.
DIFFERENTIAL_TEMPERATURE_GRID = (0.5, 1.0, 1.5, 2.0)


def choose_differential_calibration(
    logits: FloatArray,
    targets: IntArray,
    truths: list[set[int]],
    calibration_temperature: float,
) -> tuple[float, float]:
    """The (temperature, threshold) with the best mean DDF1 on these rows: the calibration
    temperature or one of ``DIFFERENTIAL_TEMPERATURE_GRID``, each with its best threshold
    (``choose_differential_threshold``); ties keep the calibration temperature."""
    best: tuple[float, float, float] | None = None  # (ddf1, temperature, threshold)
    for temperature in (calibration_temperature, *DIFFERENTIAL_TEMPERATURE_GRID):
        probs = softmax(logits, temperature)
        threshold = choose_differential_threshold(probs, targets, truths)
        score = differential_metrics(probs, targets, truths, threshold).ddf1 if truths else 0.0
        if best is None or score > best[0]:
            best = (score, temperature, threshold)
    assert best is not None
    return best[1], best[2]


def choose_differential_threshold(
    probs: FloatArray, targets: IntArray, truths: list[set[int]]
) -> float:
    """The threshold of ``DIFFERENTIAL_THRESHOLD_GRID`` with the best mean DDF1 on these rows
    (ties: the paper's 0.01 if among them, else the lowest); the paper's 0.01 without rows."""
    if len(truths) == 0:
        return DIFFERENTIAL_THRESHOLD
    scores = {
        t: differential_metrics(probs, targets, truths, t).ddf1 for t in DIFFERENTIAL_THRESHOLD_GRID
    }
    best = max(scores.values())
    tied = [t for t, score in scores.items() if score == best]
    return DIFFERENTIAL_THRESHOLD if DIFFERENTIAL_THRESHOLD in tied else min(tied)


def per_source_metrics(
    probs: FloatArray,
    targets: IntArray,
    sources: list[str],
    truths: list[set[int] | None],
    *,
    threshold: float,
    differential_threshold: float = DIFFERENTIAL_THRESHOLD,
    differential_probs: FloatArray | None = None,
) -> dict[str, dict[str, Any]]:
    """Classification metrics per source and ``overall``; where rows have a ground-truth
    differential, the differential metrics of those rows too (key ``differential``), from
    ``differential_probs`` where given (the differential's own temperature), else ``probs``."""
    differential_source = probs if differential_probs is None else differential_probs
    names = ["overall", *dict.fromkeys(sources)]
    report: dict[str, dict[str, Any]] = {}
    for name in names:
        rows = [i for i, source in enumerate(sources) if name in ("overall", source)]
        entry = classification_metrics(probs[rows], targets[rows], threshold).to_dict()
        with_truth = [i for i in rows if truths[i] is not None]
        if with_truth:
            entry["differential"] = differential_metrics(
                differential_source[with_truth],
                targets[with_truth],
                [truths[i] or set() for i in with_truth],
                differential_threshold,
            ).to_dict()
        report[name] = entry
    return report
