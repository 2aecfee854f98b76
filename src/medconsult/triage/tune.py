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

from medconsult.triage import levels
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


# --- the three levels ---------------------------------------------------------------------------

# Candidates, most cautious first (ties go to the first: fewer cases sent to self-care).
LEVEL_MODES: tuple[levels.Mode, ...] = ("both", "rules", "model", "either")
LEVEL_MAX_DAYS = (3, 7, 14, 21)
TO_DEV = {"emergency": "emergent", "see_doctor": "non_emergent", "self_care": "self_care"}


@dataclass(frozen=True)
class LevelRow:
    text: str
    expected: str  # emergent | non_emergent | self_care
    flagged: bool
    model_urgency: str | None


def level_accuracy(rows: Sequence[LevelRow], settings: levels.Settings) -> float:
    right = sum(
        TO_DEV[
            levels.level(
                row.text,
                flagged=row.flagged,
                model_urgency=row.model_urgency,
                settings=settings,
            )
        ]
        == row.expected
        for row in rows
    )
    return right / max(1, len(rows))


def best_levels(rows: Sequence[LevelRow], candidates: Sequence[levels.Settings]) -> levels.Settings:
    return max(candidates, key=lambda c: (level_accuracy(rows, c), -candidates.index(c)))


def tune_levels(
    path: Path, *, folds: int = DEFAULT_FOLDS, model_dir: Path | None = None
) -> dict[str, Any]:
    """Choose the three-level mode and duration limit by k-fold cross-validation on ``path``.

    Red flags come from the rules (the semantic layer's few extra flags do not change which
    non-emergency is self-care). Without a model only the duration limit is chosen.
    """
    rows = read_rows(path)
    model: list[str | None] = [None] * len(rows)
    if model_dir is not None:
        from medconsult.triage.evaluate import model_urgencies

        model = model_urgencies([row["text"] for row in rows], model_dir)
    scored = [
        LevelRow(row["text"], row["triage"], bool(find_flags(row["text"])), urgency)
        for row, urgency in zip(rows, model, strict=True)
    ]
    modes = LEVEL_MODES if model_dir is not None else ("rules",)
    candidates = [levels.Settings(mode, days) for mode in modes for days in LEVEL_MAX_DAYS]
    order = list(range(len(scored)))
    random.Random(SEED).shuffle(order)
    results = []
    for fold in range(folds):
        held = [scored[i] for i in order[fold::folds]]
        train = [scored[i] for k, i in enumerate(order) if k % folds != fold]
        chosen = best_levels(train, candidates)
        results.append(
            {
                "mode": chosen.mode,
                "max_days": chosen.max_days,
                "held_out_accuracy": round(level_accuracy(held, chosen), 4),
            }
        )
    final = best_levels(scored, candidates)
    return {
        "data": str(path),
        "rows": len(rows),
        "model": None if model_dir is None else str(model_dir),
        "folds": results,
        "mean_held_out_accuracy": round(
            sum(float(r["held_out_accuracy"]) for r in results) / folds, 4
        ),
        "chosen": {"mode": final.mode, "max_days": final.max_days},
        "accuracy_all_rows": round(level_accuracy(scored, final), 4),
    }
