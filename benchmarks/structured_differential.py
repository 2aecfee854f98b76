"""How far a model of the structured answers alone gets on the DDXPlus differential (DDF1).

    python benchmarks/structured_differential.py [--epochs 600] [--hidden 0 256 512]
                                                 [--membership | --trees | --product]

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

``--trees`` (5-fold DDF1 0.908 ± 0.004 at p >= 0.5, 0.909 ± 0.004 with the expected-F1 set;
GTPA@1 0.985 ± 0.006): the same membership question
answered by one gradient-boosted tree ensemble per condition (scikit-learn's
``HistGradientBoostingClassifier``, ``TREE_SETTINGS``: 200 trees of at most 15 leaves, learning
rate 0.1, L2 1.0, no early stopping) over the one-hot answers, age band and sex plus age and
every scale answer as numbers; trees model the conjunctions of answers (and the other
conditions' evidence) that a linear model per condition misses. A separate pathology classifier
(multinomial logistic regression, scikit-learn's defaults, C = 1) gives the top-1 answer, and
that pathology is always put in the differential (a case's pathology always is in its
ground-truth differential). Two differentials are printed from the same fits, both decision
rules fixed in advance: membership probability >= 0.5, and the plug-in expected-F1 set (per
case, the k most probable conditions maximising ``2 * sum(top-k p) / (k + sum(p))``). Nothing is
chosen on any held-out fold; every setting above was fixed before this cross-validation (the
tree settings are one of two tried while developing, on fold 0's held-out rows only, so the
figures may be very slightly optimistic). Each fold takes about 90 s on one CPU thread; a fit on
all 1,974 patients about 100 s.

``--product [--partial 0 0.3]`` measures the product module ``medconsult.ml.structured``
(the membership trees above, with its partial-answer copies and unknown age/sex rows) in the
same 5 folds: its ``fit`` on the training folds with each ``partial_fraction`` given, then DDR,
DDP and DDF1 (membership >= 0.5, fixed in advance) on the held-out rows (a) with all their
answers, (b) with a random half of their answered questions removed (initial evidence kept,
``ddxplus.partial_answers`` with fraction 0.5, seed 1000 + fold), and (c) as (b) without age
and sex. Nothing is chosen on any held-out fold. Then the fit time on all patients (the last
``--partial`` value) and the prediction time of one case. Measured (mean ± sd over folds):

=================  ==========================  ======================  ======================
partial_fraction   held-out answers            DDR / DDP               DDF1
=================  ==========================  ======================  ======================
0                  all                         0.917 / 0.904           0.899 ± 0.006
0                  half                        0.530 / 0.791           0.588 ± 0.015
0                  half, no age / sex          0.499 / 0.760           0.556 ± 0.020
0.3                all                         0.921 / 0.889           0.891 ± 0.007
0.3                half                        0.660 / 0.800           0.677 ± 0.011
0.3                half, no age / sex          0.619 / 0.770           0.639 ± 0.009
=================  ==========================  ======================  ======================

The partial copies cost 0.008 DDF1 on full answers and gain 0.09 on half answers; the product
uses 0.3. On full answers even partial_fraction 0 stays below ``--trees`` (0.908): the same
trees, but the product hides the age, and the sex, on 10% of the training rows (and encodes an
unknown age as missing); which of its differences costs what was not measured. A fit on all
1,974 patients with partial_fraction 0.3 (2,566 training rows) took 137 s on one CPU thread;
``members()`` of one case about 4 ms.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from medconsult.ml.crossval import kfold_indices
from medconsult.ml.ddxplus import Patient, load_patients
from medconsult.ml.metrics import differential_metrics

THRESHOLDS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.08)


def print_summary(name: str, values: dict[str, list[float]]) -> None:
    """One line: each metric's mean ± sample standard deviation over the folds."""
    parts = [f"{key} {np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" for key, v in values.items()]
    print(f"{name}: " + ", ".join(parts), flush=True)


def _values(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--hidden", type=int, nargs="+", default=[0, 512])
    parser.add_argument("--weight", type=float, action="append", default=None)
    parser.add_argument("--membership", action="store_true", help="one classifier per condition")
    parser.add_argument(
        "--trees",
        action="store_true",
        help="one gradient-boosted tree ensemble per condition, with a pathology classifier",
    )
    parser.add_argument(
        "--product", action="store_true", help="the product module medconsult.ml.structured"
    )
    parser.add_argument(
        "--partial", type=float, nargs="+", default=[0.0, 0.3], help="with --product"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    patients = load_patients()
    if args.product:
        _product(patients, args.partial)
        return
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
    if args.trees:
        _trees(np.hstack([x, _numeric(patients)]), targets, truths, folds, len(names))
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


TREE_SETTINGS = {
    "max_iter": 200,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


def _numeric(patients: list[Patient]) -> np.ndarray:
    """Age / 100 and every scale answer / 10 (0 when not asked) as numbers."""
    scales = sorted(
        {
            key
            for p in patients
            for key, value in p.evidences.items()
            if isinstance(value, int) and not isinstance(value, bool)
        }
    )
    numeric = np.zeros((len(patients), len(scales) + 1), dtype=np.float32)
    for row, patient in enumerate(patients):
        for column, key in enumerate(scales):
            value = patient.evidences.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                numeric[row, column] = value / 10
        numeric[row, -1] = patient.age / 100
    return numeric


def _fit_trees(
    x: np.ndarray, member: np.ndarray, targets: np.ndarray
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Membership tree ensembles (one per condition) and the pathology classifier, fitted on
    these rows; returns ``predict(x) -> (membership probabilities, pathology probabilities)``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    n = member.shape[1]
    models: list[HistGradientBoostingClassifier | float] = []
    for condition in range(n):
        seen = member[:, condition]
        if seen.min() == seen.max():  # always or never in a differential here
            models.append(float(seen[0]))
            continue
        model = HistGradientBoostingClassifier(**TREE_SETTINGS, random_state=0)  # type: ignore[arg-type]
        models.append(model.fit(x, seen))
    pathology = LogisticRegression(max_iter=3000).fit(x, targets)

    def predict(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = np.zeros((len(rows), n))
        for condition, model in enumerate(models):
            probs[:, condition] = (
                model if isinstance(model, float) else model.predict_proba(rows)[:, 1]
            )
        classes = np.zeros((len(rows), n))
        classes[:, pathology.classes_] = pathology.predict_proba(rows)
        return probs, classes

    return predict


def _with_pathology(membership: np.ndarray, pathology: np.ndarray) -> np.ndarray:
    """Membership scores where each case's most probable pathology scores above every other
    condition and above 1: it is the top-1 answer and always in the differential (the case's
    pathology always is in its ground-truth differential)."""
    scores = membership.copy()
    rows = np.arange(len(scores))
    scores[rows, pathology.argmax(1)] = np.maximum(scores.max(1), 1.0) + 1e-6
    return scores


def _expected_f1_sets(scores: np.ndarray) -> np.ndarray:
    """Per case, the k highest-scoring conditions for the k that maximises the plug-in expected
    F1 ``2 * sum(top-k p) / (k + sum(p))`` (p = membership probabilities clipped to [0, 1]): a
    decision rule with nothing to tune. The chosen conditions keep their order with scores in
    (1, 2], the others score 0, so the differential at threshold 0.5 is the chosen set and the
    top-1 answer is unchanged."""
    chosen = np.zeros_like(scores)
    probs = np.clip(scores, 0.0, 1.0)
    for row, p in enumerate(probs):
        order = np.argsort(-scores[row], kind="stable")
        gain = 2 * np.cumsum(p[order]) / (np.arange(1, len(p) + 1) + p.sum())
        chosen[row, order[: int(np.argmax(gain)) + 1]] = 1.0
    scaled = 1.0 + (scores - scores.min()) / (scores.max() - scores.min() + 1e-12)
    return chosen * scaled


def _trees(
    x: np.ndarray, targets: np.ndarray, truths: list[set[int]], folds: list[list[int]], n: int
) -> None:
    member = np.zeros((len(x), n), dtype=np.int64)
    for row, truth in enumerate(truths):
        member[row, sorted(truth)] = 1
    rules = {
        "trees, p >= 0.5": lambda m, c: m,
        "trees + pathology, p >= 0.5": _with_pathology,
        "trees + pathology, expected-F1 set": lambda m, c: _expected_f1_sets(_with_pathology(m, c)),
        "pathology classifier alone (GTPA@1)": lambda m, c: c,
    }
    scores: dict[str, dict[str, list[float]]] = {rule: {} for rule in rules}
    for fold, held in enumerate(folds):
        start = time.perf_counter()
        train = np.setdiff1d(np.arange(len(x)), held)
        membership, pathology = _fit_trees(x[train], member[train], targets[train])(x[held])
        for rule, decide in rules.items():
            result = differential_metrics(
                decide(membership, pathology),
                targets[held],
                [truths[i] for i in held],
                MEMBERSHIP_THRESHOLD,
            )
            for key in ("ddr", "ddp", "ddf1", "gtpa_at_1", "mean_differential_size"):
                scores[rule].setdefault(key, []).append(getattr(result, key))
        print(f"fold {fold}: {time.perf_counter() - start:.0f} s", flush=True)
    for rule, values in scores.items():
        print_summary(rule, values)
    start = time.perf_counter()
    _fit_trees(x, member, targets)
    print(f"fit on all {len(x)} patients: {time.perf_counter() - start:.0f} s", flush=True)


def _product(patients: list[Patient], fractions: list[float]) -> None:
    import random

    from medconsult.ml import structured
    from medconsult.ml.ddxplus import load_questionnaire, partial_answers

    questionnaire = load_questionnaire()
    names = sorted(
        {p.pathology for p in patients} | {n for p in patients for n, _ in p.differential}
    )
    index = {name: i for i, name in enumerate(names)}
    targets = np.array([index[p.pathology] for p in patients])
    truths = [{n for n, _ in p.differential} for p in patients]
    truth_ids = [{index[n] for n in truth} for truth in truths]
    cases = [structured.StructuredCase.from_patient(p) for p in patients]
    folds = kfold_indices([p.pathology for p in patients], 5, 42)
    print(f"{len(patients)} patients, {len(names)} conditions", flush=True)
    for fraction in fractions:
        scores: dict[str, dict[str, list[float]]] = {}
        for fold, held in enumerate(folds):
            start = time.perf_counter()
            train = np.setdiff1d(np.arange(len(patients)), held)
            model = structured.fit(
                [cases[i] for i in train],
                [truths[i] for i in train],
                names,
                partial_fraction=fraction,
            )
            assert model.conditions == tuple(names)
            rng = random.Random(1000 + fold)
            half = [
                structured.StructuredCase(
                    partial_answers(
                        cases[i].answers,
                        questionnaire,
                        rng,
                        keep=(patients[i].initial_evidence,),
                        fraction=0.5,
                    ),
                    patients[i].age,
                    patients[i].sex,
                )
                for i in held
            ]
            views = {
                "full answers": [cases[i] for i in held],
                "half answers": half,
                "half answers, no age/sex": [
                    structured.StructuredCase(c.answers, None, None) for c in half
                ],
            }
            for view, view_cases in views.items():
                result = differential_metrics(
                    model.membership(view_cases),
                    targets[held],
                    [truth_ids[i] for i in held],
                    model.threshold,
                )
                for key in ("ddr", "ddp", "ddf1", "mean_differential_size"):
                    scores.setdefault(view, {}).setdefault(key, []).append(getattr(result, key))
            print(
                f"partial_fraction {fraction} fold {fold}: {time.perf_counter() - start:.0f} s",
                flush=True,
            )
        for view, values in scores.items():
            print_summary(f"partial_fraction {fraction}, {view}", values)
    start = time.perf_counter()
    model = structured.fit(cases, truths, names, partial_fraction=fractions[-1])
    print(
        f"fit on all {len(cases)} patients (partial_fraction {fractions[-1]}): "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    start = time.perf_counter()
    for case in cases[:200]:
        model.members(case)
    print(f"members() of one case: {(time.perf_counter() - start) / 200 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
