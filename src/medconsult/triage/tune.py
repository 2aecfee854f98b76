"""Choose the semantic layer's threshold by k-fold cross-validation on the development set.

Each text's score is its highest similarity to any red-flag description (``semantic.py``). On
each training split the threshold is the lowest one that keeps false alarms (non-emergencies
at or above it) at or under ``max_false_alarm``; it is then scored on the held-out split, alone
and combined with the rules. The reported threshold is chosen the same way on all rows; it goes
into ``library.json`` by hand, with this command's output as its provenance.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medconsult.triage.rules import find_flags

DEFAULT_FOLDS = 5
DEFAULT_MAX_FALSE_ALARM = 0.02  # the semantic layer's share of the 5% false-alarm budget
SEED = 20261202


@dataclass(frozen=True)
class Scored:
    emergency: bool
    score: float  # best semantic similarity over categories
    rules: bool  # the rules flag it


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def pick_threshold(rows: Sequence[Scored], max_false_alarm: float) -> float:
    """The lowest threshold with at most ``max_false_alarm`` of non-emergencies above it."""
    negatives = sorted((row.score for row in rows if not row.emergency), reverse=True)
    allowed = int(max_false_alarm * len(negatives))
    # Scores strictly above the (allowed+1)-th highest negative flag at most ``allowed`` of them.
    if allowed >= len(negatives):
        return 0.0
    return round(negatives[allowed] + 1e-4, 4)


def rates(rows: Sequence[Scored], threshold: float, *, with_rules: bool) -> dict[str, float]:
    def flagged(row: Scored) -> bool:
        return row.score >= threshold or (with_rules and row.rules)

    positives = [row for row in rows if row.emergency]
    negatives = [row for row in rows if not row.emergency]
    return {
        "recall": sum(map(flagged, positives)) / max(1, len(positives)),
        "false_alarm_rate": sum(map(flagged, negatives)) / max(1, len(negatives)),
    }


def cross_validate(
    rows: Sequence[Scored], *, folds: int = DEFAULT_FOLDS, max_false_alarm: float
) -> dict[str, Any]:
    order = list(range(len(rows)))
    random.Random(SEED).shuffle(order)
    results: list[dict[str, Any]] = []
    for fold in range(folds):
        held = [rows[i] for i in order[fold::folds]]
        train = [rows[i] for k, i in enumerate(order) if k % folds != fold]
        threshold = pick_threshold(train, max_false_alarm)
        results.append(
            {
                "threshold": threshold,
                "semantic_only": rates(held, threshold, with_rules=False),
                "rules_and_semantic": rates(held, threshold, with_rules=True),
                "rules_only": rates(held, 2.0, with_rules=True),
            }
        )

    def mean(key: str, metric: str) -> float:
        return round(sum(float(r[key][metric]) for r in results) / folds, 4)

    summary = {
        key: {metric: mean(key, metric) for metric in ("recall", "false_alarm_rate")}
        for key in ("semantic_only", "rules_and_semantic", "rules_only")
    }
    return {"folds": results, "mean_held_out": summary}


def tune(path: Path, *, folds: int, max_false_alarm: float) -> dict[str, Any]:
    """Cross-validated rates and the threshold chosen on all rows of ``path``."""
    from medconsult.triage.semantic import SemanticTriage

    layer = SemanticTriage()
    rows = read_rows(path)
    scored = []
    for row in rows:
        best = layer.best_matches(row["text"])
        scored.append(
            Scored(
                emergency=row["triage"] == "emergent",
                score=max((score for score, _clause in best.values()), default=0.0),
                rules=bool(find_flags(row["text"])),
            )
        )
    result = cross_validate(scored, folds=folds, max_false_alarm=max_false_alarm)
    result["threshold"] = pick_threshold(scored, max_false_alarm)
    result["rows"] = len(rows)
    result["data"] = str(path)
    return result
