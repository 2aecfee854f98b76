"""How far a model of the structured answers alone gets on the DDXPlus differential (DDF1).

    python benchmarks/structured_differential.py [--epochs 600] [--hidden 0 256 512]
                                                 [--membership]

For each setting: 5 stratified folds (seed 42, ``medconsult.ml.crossval.kfold_indices``) of
``data/ddxplus/patients.csv``; a linear model or a one-hidden-layer MLP over one-hot answers,
age band and sex, trained full-batch with AdamW on the target ``w * differential + (1 - w) *
pathology`` (``w`` = --weight, repeatable). Prints GTPA@1 and DDF1 (mean ± sd over folds). The
differential threshold is the best of a small grid ON THE HELD-OUT FOLD, so the DDF1 printed is
an upper bound for the setting, not an estimate: this script asks whether the issue's DDF1 target
is within reach of the answers on this small set, it chooses nothing for the product.

``--membership`` asks the question the other way round (and only that): instead of one
distribution over the conditions, one logistic regression per condition (scikit-learn's
defaults, C = 1) predicts whether that condition belongs to the case's ground-truth
differential, and the differential is every condition with a membership probability of at
least 0.5 (fixed in advance: nothing is chosen on the held-out fold, so this DDF1 is an
estimate, not a bound).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from medconsult.ml.crossval import kfold_indices
from medconsult.ml.ddxplus import load_patients
from medconsult.ml.metrics import differential_metrics

THRESHOLDS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.08)


def _values(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--hidden", type=int, nargs="+", default=[0, 512])
    parser.add_argument("--weight", type=float, action="append", default=None)
    parser.add_argument("--membership", action="store_true", help="one classifier per condition")
    args = parser.parse_args()
    torch.set_num_threads(1)
    patients = load_patients()
    names = sorted(
        {p.pathology for p in patients} | {n for p in patients for n, _ in p.differential}
    )
    index = {name: i for i, name in enumerate(names)}
    features = sorted(
        {f"{k}={v}" for p in patients for k, vs in p.evidences.items() for v in _values(vs)}
    )
    feature_index = {f: i for i, f in enumerate(features)}
    x = np.zeros((len(patients), len(features) + 12), dtype=np.float32)
    differential = np.zeros((len(patients), len(names)), dtype=np.float32)
    targets = np.array([index[p.pathology] for p in patients])
    truths = []
    for row, patient in enumerate(patients):
        for key, value in patient.evidences.items():
            for item in _values(value):
                x[row, feature_index[f"{key}={item}"]] = 1
        x[row, len(features) + min(int(patient.age) // 10, 9)] = 1
        x[row, len(features) + 10 + int(patient.sex == "M")] = 1
        for name, weight in patient.differential:
            differential[row, index[name]] = weight
        differential[row] /= differential[row].sum()
        truths.append({index[name] for name, _ in patient.differential})
    one_hot = np.eye(len(names), dtype=np.float32)[targets]
    folds = kfold_indices([p.pathology for p in patients], 5, 42)
    print(f"{len(patients)} patients, {len(features)} answer features, {len(names)} conditions")
    if args.membership:
        _membership(x, targets, truths, folds, len(names))
        return
    for weight in args.weight or [0.5, 1.0]:
        for hidden in args.hidden:
            ddf1, gtpa1 = [], []
            for held in folds:
                train = np.setdiff1d(np.arange(len(patients)), held)
                torch.manual_seed(0)
                width = x.shape[1]
                model: torch.nn.Module = (
                    torch.nn.Linear(width, len(names))
                    if hidden == 0
                    else torch.nn.Sequential(
                        torch.nn.Linear(width, hidden),
                        torch.nn.ReLU(),
                        torch.nn.Dropout(0.2),
                        torch.nn.Linear(hidden, len(names)),
                    )
                )
                optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
                inputs = torch.tensor(x[train])
                soft = torch.tensor(weight * differential[train] + (1 - weight) * one_hot[train])
                for _ in range(args.epochs):
                    model.train()
                    optimiser.zero_grad()
                    loss = -(soft * torch.log_softmax(model(inputs), 1)).sum(1).mean()
                    loss.backward()
                    optimiser.step()
                model.eval()
                with torch.no_grad():
                    probs = torch.softmax(model(torch.tensor(x[held])), 1).numpy()
                held_truths = [truths[i] for i in held]
                ddf1.append(
                    max(
                        differential_metrics(probs, targets[held], held_truths, t).ddf1
                        for t in THRESHOLDS
                    )
                )
                gtpa1.append(float((probs.argmax(1) == targets[held]).mean()))
            print(
                f"w={weight} hidden={hidden}: GTPA@1 {np.mean(gtpa1):.3f} "
                f"± {np.std(gtpa1, ddof=1):.3f}, DDF1 (best threshold) {np.mean(ddf1):.3f} "
                f"± {np.std(ddf1, ddof=1):.3f}",
                flush=True,
            )


MEMBERSHIP_THRESHOLD = 0.5


def _membership(
    x: np.ndarray, targets: np.ndarray, truths: list[set[int]], folds: list[list[int]], n: int
) -> None:
    from sklearn.linear_model import LogisticRegression

    member = np.zeros((len(x), n), dtype=np.int64)
    for row, truth in enumerate(truths):
        member[row, sorted(truth)] = 1
    scores: dict[str, list[float]] = {"ddr": [], "ddp": [], "ddf1": [], "size": []}
    for held in folds:
        train = np.setdiff1d(np.arange(len(x)), held)
        probs = np.zeros((len(held), n))
        for condition in range(n):
            seen = member[train, condition]
            if seen.min() == seen.max():  # always or never in a differential here
                probs[:, condition] = float(seen[0])
                continue
            model = LogisticRegression(max_iter=2000).fit(x[train], seen)
            probs[:, condition] = model.predict_proba(x[held])[:, 1]
        result = differential_metrics(
            probs, targets[held], [truths[i] for i in held], MEMBERSHIP_THRESHOLD
        )
        scores["ddr"].append(result.ddr)
        scores["ddp"].append(result.ddp)
        scores["ddf1"].append(result.ddf1)
        scores["size"].append(result.mean_differential_size)
    print(
        "membership (one logistic regression per condition, p >= 0.5): "
        + ", ".join(
            f"{key.upper() if key != 'size' else 'size'} {np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}"
            for key, v in scores.items()
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
