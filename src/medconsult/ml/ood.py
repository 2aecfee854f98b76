"""Out-of-distribution check: is a case unlike every case the model was trained on? (torch-free)

A softmax over 24 labels is rarely unsure, whatever the text: a cataract operation note can get
"migraine" at 0.99. So beside the probability threshold, each suggestion gets an OOD score:

- ``energy`` (the default, chosen by measurement: ``benchmarks/ood_methods.py`` on the development
  part of data/ood/, see README "Out of scope"): the negative free energy
  ``-T * logsumexp(logits / T)`` with the calibration temperature (Liu et al., NeurIPS 2020).
  Unlike the top probability it also falls when every logit is low, not only when two compete.
- ``knn``: 1 - cosine similarity to the k-th nearest training case in the fine-tuned encoder's
  pooled output (``[CLS]`` through the pooler, mean over a long text's windows: the vector the
  head reads; Sun et al., ICML 2022). The artifact stores the L2-normalised pooled vectors of the
  training split.
- ``mahalanobis``: the smallest Mahalanobis distance to a class mean of the pooled output under
  one shared, shrunk covariance (Lee et al., NeurIPS 2018); the artifact stores the class means
  and the precision matrix.

A higher score is more unusual. The threshold is fitted on the validation split (cases the model
never trained on) so that the share of validation cases that abstain, for either reason (low
confidence or OOD), is at most ``target_abstention``. Statistics and threshold live in the
artifact (``ood.json`` + ``ood.npz``); an artifact without them loads with the check unavailable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from medconsult.ml.errors import ArtifactError

FloatArray = NDArray[np.float64]

OOD_JSON = "ood.json"
OOD_ARRAYS = "ood.npz"
SCHEMA_VERSION = 1

OodMethod = Literal["knn", "mahalanobis", "energy"]
OOD_METHODS: tuple[OodMethod, ...] = ("knn", "mahalanobis", "energy")

# --- defaults (chosen on the development split of data/ood/, see README "Out of scope") --------
# The 24-label model: energy was best (AUROC 0.984). The 69-label model trained for 8 epochs:
# kNN on the pooled output (k = 5: AUROC 0.993, 96.4 % of out-of-scope development texts
# abstained at 4.8 % in scope) and Mahalanobis (0.990, 96.9 %) far ahead of energy (0.873,
# 66.8 %): its logits are sharp everywhere, its pooled features are not
# (benchmarks/ood_methods.py on data/ood/dev.csv).
DEFAULT_OOD_METHOD: OodMethod = "knn"
DEFAULT_OOD_K = 5  # the k-th nearest training case
DEFAULT_TARGET_ABSTENTION = 0.05  # in-scope (validation) abstention, both reasons together
MAHALANOBIS_SHRINKAGE = 0.1  # covariance -> (1 - s) * covariance + s * mean variance * I
FEATURE_DESCRIPTION = (
    "pooler output (tanh of the dense layer over the last [CLS] hidden state), "
    "mean over a text's windows"
)
# ----------------------------------------------------------------------------------------------

# Why a suggestion abstained; a suggestion may have both.
LOW_CONFIDENCE = "low_confidence"
OUT_OF_DISTRIBUTION = "out_of_distribution"


def _normalise(features: FloatArray) -> FloatArray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    result: FloatArray = features / np.maximum(norms, 1e-12)
    return result


def energy_score(logits: FloatArray, temperature: float = 1.0) -> FloatArray:
    """``-T * logsumexp(logits / T)`` per row: higher is less like the training data."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    top = scaled.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(scaled - top).sum(axis=1))
    result: FloatArray = -temperature * lse
    return result


@dataclass(frozen=True)
class OodStatistics:
    """What a method needs to score new cases (arrays may be empty for ``energy``)."""

    method: OodMethod
    k: int
    reference: FloatArray  # knn: L2-normalised training vectors [n, d]
    class_means: FloatArray  # mahalanobis: [classes, d]
    precision: FloatArray  # mahalanobis: [d, d]
    temperature: float  # energy: the calibration temperature

    @classmethod
    def fit(
        cls,
        method: OodMethod,
        features: FloatArray,
        targets: NDArray[np.int64],
        *,
        k: int = DEFAULT_OOD_K,
        temperature: float = 1.0,
    ) -> OodStatistics:
        """Statistics of the training split's pooled vectors ``features`` (labels ``targets``)."""
        if method not in OOD_METHODS:
            raise ValueError(f"unknown OOD method {method!r}; use one of {', '.join(OOD_METHODS)}")
        features = np.asarray(features, dtype=np.float64)
        empty = np.zeros((0, 0), dtype=np.float64)
        if method == "knn":
            if len(features) < k:
                raise ValueError(f"kNN with k={k} needs at least {k} training cases")
            return cls(method, k, _normalise(features), empty, empty, temperature)
        if method == "mahalanobis":
            classes = sorted({int(t) for t in targets})
            means = np.stack([features[targets == c].mean(axis=0) for c in classes])
            centred = features - means[np.searchsorted(classes, targets)]
            covariance = centred.T @ centred / max(len(features) - len(classes), 1)
            scale = float(np.trace(covariance)) / covariance.shape[0]
            shrunk = (1 - MAHALANOBIS_SHRINKAGE) * covariance + MAHALANOBIS_SHRINKAGE * scale * (
                np.eye(covariance.shape[0])
            )
            return cls(method, k, empty, means, np.linalg.inv(shrunk), temperature)
        return cls(method, k, empty, empty, empty, temperature)

    def score(self, features: FloatArray, logits: FloatArray) -> FloatArray:
        """OOD score per row (higher: less like the training data)."""
        if self.method == "energy":
            return energy_score(logits, self.temperature)
        features = np.asarray(features, dtype=np.float64)
        if self.method == "knn":
            similarity = _normalise(features) @ self.reference.T  # [rows, n]
            k = min(self.k, similarity.shape[1])
            kth = -np.partition(-similarity, k - 1, axis=1)[:, k - 1]
            result: FloatArray = 1.0 - kth
            return result
        diffs = features[:, None, :] - self.class_means[None, :, :]  # [rows, classes, d]
        distances = np.einsum("rcd,de,rce->rc", diffs, self.precision, diffs)
        mahalanobis: FloatArray = distances.min(axis=1)
        return mahalanobis


def choose_ood_threshold(
    scores: FloatArray, low_confidence: NDArray[np.bool_], target: float
) -> float:
    """The lowest threshold such that the rows abstaining for either reason (low confidence, or
    ``score > threshold``) are at most a ``target`` share of the rows.

    Candidates are the rows' own scores (and +inf, where the probability threshold alone already
    exceeds the target). Ties stay together: a threshold equal to a score keeps that row.
    """
    scores = np.asarray(scores, dtype=np.float64)
    low_confidence = np.asarray(low_confidence, dtype=bool)
    n = len(scores)
    if n == 0:
        return float("inf")
    allowed = int(np.floor(target * n + 1e-9))
    for candidate in np.unique(scores):  # ascending: the first that fits is the lowest
        abstained = int(np.count_nonzero(low_confidence | (scores > candidate)))
        if abstained <= allowed:
            return float(candidate)
    return float("inf")


def out_of_fold_abstention(
    scores: FloatArray,
    low_confidence: NDArray[np.bool_],
    target: float,
    *,
    folds: int = 5,
    seed: int = 0,
) -> float:
    """Abstention rate on rows the threshold was not fitted on: the threshold is chosen on
    ``folds - 1`` parts and applied to the remaining one, for every part in turn."""
    n = len(scores)
    if n < folds:
        return float("nan")
    order = np.random.default_rng(seed).permutation(n)
    abstained = 0
    for part in np.array_split(order, folds):
        rest = np.setdiff1d(order, part)
        threshold = choose_ood_threshold(scores[rest], low_confidence[rest], target)
        abstained += int(np.count_nonzero(low_confidence[part] | (scores[part] > threshold)))
    return abstained / n


def auroc(in_scores: FloatArray, out_scores: FloatArray) -> float:
    """Probability that an out-of-scope case scores higher than an in-scope one (ties: half)."""
    a = np.asarray(in_scores, dtype=np.float64)
    b = np.asarray(out_scores, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    combined = np.concatenate([a, b])
    order = combined.argsort(kind="mergesort")
    ranks = np.empty(len(combined), dtype=np.float64)
    sorted_values = combined[order]
    # Average ranks for ties.
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    rank_sum = ranks[len(a) :].sum()
    return float((rank_sum - len(b) * (len(b) + 1) / 2.0) / (len(a) * len(b)))


@dataclass(frozen=True)
class OodCheck:
    """A fitted check: statistics, threshold and how it was chosen (``ood.json``)."""

    statistics: OodStatistics
    threshold: float
    info: dict[str, Any]

    @property
    def method(self) -> OodMethod:
        return self.statistics.method

    def scores(self, features: FloatArray, logits: FloatArray) -> FloatArray:
        return self.statistics.score(features, logits)

    def is_out_of_distribution(self, scores: FloatArray) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = np.asarray(scores) > self.threshold
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "method": self.statistics.method,
            "k": self.statistics.k if self.statistics.method == "knn" else None,
            "temperature": self.statistics.temperature,
            # null: never out of distribution (the probability threshold alone used the budget)
            "threshold": self.threshold if np.isfinite(self.threshold) else None,
            "feature": (
                "classifier's logits, mean over a text's windows"
                if self.statistics.method == "energy"
                else FEATURE_DESCRIPTION
            ),
            "score": {
                "knn": "1 - cosine similarity to the k-th nearest training case",
                "mahalanobis": "smallest Mahalanobis distance to a class mean (shared, "
                f"shrunk covariance, shrinkage {MAHALANOBIS_SHRINKAGE})",
                "energy": "-T * logsumexp(logits / T)",
            }[self.statistics.method],
            "rule": "abstain when the score is above the threshold (higher: less like the "
            "training data)",
            **self.info,
        }

    def save(self, directory: Path) -> None:
        (directory / OOD_JSON).write_text(
            json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        with (directory / OOD_ARRAYS).open("wb") as handle:
            np.savez(
                handle,
                reference=self.statistics.reference.astype(np.float32),
                class_means=self.statistics.class_means.astype(np.float32),
                precision=self.statistics.precision.astype(np.float32),
            )

    @classmethod
    def load(cls, directory: str | Path) -> OodCheck | None:
        """The artifact's check, or None when it has none (trained before the check existed).
        ``ArtifactError`` when the files are there but unreadable."""
        folder = Path(directory)
        if not (folder / OOD_JSON).is_file():
            return None
        try:
            document = json.loads((folder / OOD_JSON).read_text(encoding="utf-8"))
            with np.load(folder / OOD_ARRAYS, allow_pickle=False) as arrays:
                reference = np.asarray(arrays["reference"], dtype=np.float64)
                class_means = np.asarray(arrays["class_means"], dtype=np.float64)
                precision = np.asarray(arrays["precision"], dtype=np.float64)
        except (OSError, ValueError, KeyError) as exc:
            raise ArtifactError(f"artifact {folder}: unreadable OOD statistics: {exc}") from exc
        if not isinstance(document, dict) or document.get("method") not in OOD_METHODS:
            raise ArtifactError(f"artifact {folder}: {OOD_JSON} names no known OOD method")
        method: OodMethod = document["method"]
        if method == "knn" and reference.ndim != 2:
            raise ArtifactError(f"artifact {folder}: kNN OOD check without reference vectors")
        statistics = OodStatistics(
            method=method,
            k=int(document.get("k") or DEFAULT_OOD_K),
            reference=reference,
            class_means=class_means,
            precision=precision,
            temperature=float(document.get("temperature", 1.0)),
        )
        info = {
            key: value
            for key, value in document.items()
            if key not in ("method", "k", "temperature", "threshold")
        }
        raw_threshold = document.get("threshold")
        threshold = float("inf") if raw_threshold is None else float(raw_threshold)
        return cls(statistics=statistics, threshold=threshold, info=info)


def fit_ood_check(
    *,
    train_features: FloatArray,
    train_targets: NDArray[np.int64],
    val_features: FloatArray,
    val_logits: FloatArray,
    val_low_confidence: NDArray[np.bool_],
    temperature: float,
    method: OodMethod = DEFAULT_OOD_METHOD,
    k: int = DEFAULT_OOD_K,
    target: float = DEFAULT_TARGET_ABSTENTION,
) -> OodCheck:
    """Fit the statistics on the training split and the threshold on the validation split."""
    statistics = OodStatistics.fit(
        method, train_features, train_targets, k=k, temperature=temperature
    )
    scores = statistics.score(val_features, val_logits)
    threshold = choose_ood_threshold(scores, val_low_confidence, target)
    ood = scores > threshold
    n = len(scores)
    out_of_fold = out_of_fold_abstention(scores, val_low_confidence, target)
    info = {
        "fitted_on": "statistics: training split; threshold: validation split",
        "target_abstention": target,
        "n_reference": len(train_features),
        "n_validation": n,
        "validation_abstention": (float(np.mean(val_low_confidence | ood)) if n else 0.0),
        "validation_ood_rate": float(np.mean(ood)) if n else 0.0,
        "validation_abstention_out_of_fold": None if np.isnan(out_of_fold) else out_of_fold,
    }
    return OodCheck(statistics=statistics, threshold=threshold, info=info)
