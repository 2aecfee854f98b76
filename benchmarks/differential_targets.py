"""Does training towards the ground-truth differential help? TF-IDF + LR, k-fold CV on DDXPlus.

    python benchmarks/differential_targets.py [--folds 5] [--weight 0.3]

The same folds (``medconsult.ml.crossval.kfold_indices``, seed 42) for two targets: one-hot on
the pathology (the baseline, w = 0) and ``(1 - w)`` on the pathology plus ``w`` over the
ground-truth differential (``data.target_distributions``), fitted as a weighted logistic
regression (one weighted row per class with target mass). Reported: GTPA@1 and DDF1 with the
differential threshold chosen on the OTHER folds' out-of-fold predictions (cross-fitted), mean
and sd over folds, and the ratio of DDF1 against the baseline in the same run. A cheap stand-in
for the transformer, which trains with the same targets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from medconsult.ml.baseline import BASELINE_C, BASELINE_NGRAMS  # noqa: E402
from medconsult.ml.crossval import kfold_indices  # noqa: E402
from medconsult.ml.data import LABEL2ID, LABELS, load_dataset, target_distributions  # noqa: E402
from medconsult.ml.metrics import (  # noqa: E402
    choose_differential_threshold,
    differential_metrics,
    mean_and_sd,
)


def fit_predict(texts_train, targets_train, texts_test):  # type: ignore[no-untyped-def]
    vectorizer = TfidfVectorizer(ngram_range=BASELINE_NGRAMS, sublinear_tf=True)
    x_train = vectorizer.fit_transform(texts_train)
    rows, labels, weights = [], [], []
    for row, distribution in enumerate(targets_train):
        for label in np.flatnonzero(distribution > 0):
            rows.append(row)
            labels.append(int(label))
            weights.append(float(distribution[label]))
    model = LogisticRegression(C=BASELINE_C, max_iter=5000)
    model.fit(x_train[rows], labels, sample_weight=weights)
    probs = np.zeros((len(texts_test), len(LABELS)))
    probs[:, model.classes_] = model.predict_proba(vectorizer.transform(texts_test))
    return probs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--weight", type=float, default=0.3)
    args = parser.parse_args()
    data = load_dataset(ROOT / "data" / "ddxplus")
    folds = kfold_indices(data.labels, args.folds, 42)
    targets = np.array([LABEL2ID[str(label)] for label in data.labels])
    truths = [{LABEL2ID[k] for k, _ in data.differential_of(i) or ()} for i in range(len(data))]
    results = {}
    for weight in (0.0, args.weight):
        distributions = target_distributions(data, weight)
        oof = np.zeros((len(data), len(LABELS)))
        for fold in folds:
            held = set(fold)
            train = [i for i in range(len(data)) if i not in held]
            oof[fold] = fit_predict(
                [data.texts[i] for i in train], distributions[train], [data.texts[i] for i in fold]
            )
        gtpa, ddf1, thresholds = [], [], []
        for index, fold in enumerate(folds):
            others = [i for j, f in enumerate(folds) if j != index for i in f]
            threshold = choose_differential_threshold(
                oof[others], targets[others], [truths[i] for i in others]
            )
            metrics = differential_metrics(
                oof[fold], targets[fold], [truths[i] for i in fold], threshold
            )
            gtpa.append(metrics.gtpa_at_1)
            ddf1.append(metrics.ddf1)
            thresholds.append(threshold)
        results[weight] = (mean_and_sd(gtpa), mean_and_sd(ddf1), thresholds)
        print(
            f"w={weight}: GTPA@1 {results[weight][0]['mean']:.4f} ± {results[weight][0]['sd']:.4f}"
            f", DDF1 {results[weight][1]['mean']:.4f} ± {results[weight][1]['sd']:.4f}, "
            f"thresholds {thresholds}",
            flush=True,
        )
    ratio = results[args.weight][1]["mean"] / max(results[0.0][1]["mean"], 1e-9)
    print(f"DDF1 ratio, differential targets / one-hot targets: {ratio:.2f}")


if __name__ == "__main__":
    main()
