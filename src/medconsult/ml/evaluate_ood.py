"""Does the model abstain on cases outside what it knows, and only on those?

    medconsult evaluate-ood --model DIR --in DATA [--in DATA ...] --out CSV [--format json]

``--in``: in-scope labelled data, a ``label,text`` CSV or a DDXPlus folder; repeat it for several
(e.g. ``data/symptom2disease/symptom2disease.csv`` and ``data/ddxplus``). Of each one that is one
of the model's own training files (same sha256 as recorded in ``training_args.json``), only its
validation split is scored (the training rows were seen in training), as ``medconsult evaluate``
does. The in-scope figures are over all of them together, and per source. ``--out``: out-of-scope
texts (``label,text``, e.g. ``data/ood/test.csv``); every row counts as out of scope, whatever its
label.

Both sets are scored through ``predict.Classifier`` exactly as served. Reported per set: the
abstention rate (either reason) and the rates of each reason (low confidence, unlike the training
data); on the in-scope set also accuracy over every row (abstention does not change the top
label) and over the answered rows. Across the sets: the AUROC of the OOD score for telling out-of-
scope from in-scope texts, beside the AUROC of two scores that need no statistics (1 - top
probability, and the energy score). With ``--format json``, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medconsult.ml import options
from medconsult.ml.data import LABEL2ID, load_dataset
from medconsult.ml.evaluate import _read_training_args, choose_rows
from medconsult.ml.metrics import softmax
from medconsult.ml.ood import LOW_CONFIDENCE, OUT_OF_DISTRIBUTION, auroc, energy_score
from medconsult.ml.predict import Classifier


def _score(classifier: Classifier, texts: Sequence[str]) -> dict[str, Any]:
    """Per text: abstention flags, OOD score (NaN when unavailable), logits."""
    if not texts:
        empty = np.zeros(0)
        return {
            "abstained": empty.astype(bool),
            "low_confidence": empty.astype(bool),
            "ood": empty.astype(bool),
            "ood_score": empty,
            "logits": np.zeros((0, len(classifier.labels))),
            "top": np.zeros(0, dtype=np.int64),
        }
    logits, ood_scores = classifier.logits_and_ood_scores(texts)
    top_probability = softmax(logits, classifier.temperature).max(axis=1)
    # The serving rule (Classifier.suggest), one forward per text.
    reasons = [
        classifier.abstain_reasons(float(p), None if ood_scores is None else float(ood_scores[i]))
        for i, p in enumerate(top_probability)
    ]
    return {
        "abstained": np.array([bool(r) for r in reasons], dtype=bool),
        "low_confidence": np.array([LOW_CONFIDENCE in r for r in reasons], dtype=bool),
        "ood": np.array([OUT_OF_DISTRIBUTION in r for r in reasons], dtype=bool),
        "ood_score": (
            np.full(len(texts), np.nan) if ood_scores is None else np.asarray(ood_scores)
        ),
        "logits": logits,
        "top": logits.argmax(axis=1),
    }


def _rates(scored: dict[str, Any]) -> dict[str, Any]:
    n = len(scored["abstained"])

    def rate(values: np.ndarray) -> float | None:
        return float(values.mean()) if n else None

    return {
        "n": n,
        "abstained": int(scored["abstained"].sum()),
        "abstention": rate(scored["abstained"]),
        "low_confidence": rate(scored["low_confidence"]),
        "out_of_distribution": rate(scored["ood"]),
    }


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else value


def _in_scope_report(scored: dict[str, Any], labels: Sequence[str | None]) -> dict[str, Any]:
    known = np.array([label is not None for label in labels], dtype=bool)
    targets = np.array([LABEL2ID[str(label)] for label in labels if label is not None])
    correct = scored["top"][known] == targets
    answered = ~scored["abstained"][known]
    return {
        **_rates(scored),
        "unknown_labels": int((~known).sum()),
        "accuracy": float(correct.mean()) if len(correct) else None,
        "accuracy_answered": float(correct[answered].mean()) if answered.any() else None,
    }


def _concatenate_scores(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def evaluate_ood(
    model_dir: Path,
    in_paths: Path | Sequence[Path],
    out_path: Path,
    *,
    device: str = "auto",
    precision: str = "fp32",
) -> dict[str, Any]:
    """The report ``--format json`` prints (see the module docstring)."""
    classifier = Classifier.load(
        model_dir, device=device, precision=precision, max_text_chars=10**9
    )
    training_args = _read_training_args(Path(model_dir))
    paths = [Path(in_paths)] if isinstance(in_paths, str | Path) else [Path(p) for p in in_paths]
    if not paths:
        raise ValueError("evaluate_ood needs at least one in-scope data set")
    sources: list[dict[str, Any]] = []
    scored_parts: list[dict[str, Any]] = []
    labels: list[str | None] = []
    for path in paths:
        in_data = load_dataset(path)
        rows, split_name = choose_rows(in_data, path, training_args, "auto")
        in_set = in_data.subset(rows)
        scored = _score(classifier, in_set.texts)
        sources.append(
            {
                "data": str(path),
                "split": split_name,
                **_in_scope_report(scored, in_set.labels),
            }
        )
        scored_parts.append(scored)
        labels.extend(in_set.labels)
    in_scored = _concatenate_scores(scored_parts)
    out_set = load_dataset(out_path)
    out_scored = _score(classifier, out_set.texts)

    in_report: dict[str, Any] = {
        "data": ", ".join(source["data"] for source in sources),
        "split": ", ".join(dict.fromkeys(source["split"] for source in sources)),
        **_in_scope_report(in_scored, labels),
        "sources": sources,
    }
    out_report: dict[str, Any] = {
        "data": str(out_path),
        **_rates(out_scored),
        # Rows labelled with one of the model's own labels (still counted as out of scope).
        "known_labels": sum(label is not None for label in out_set.labels),
    }

    def max_probability_score(scored: dict[str, Any]) -> np.ndarray:
        probs = softmax(scored["logits"], classifier.temperature)
        result: np.ndarray = 1.0 - probs.max(axis=1)
        return result

    ood = classifier.ood
    return {
        "model": str(model_dir),
        "model_version": classifier.version,
        "precision": classifier.precision,
        "ood_available": ood is not None,
        "ood_method": ood.method if ood is not None else None,
        "ood_k": ood.statistics.k if ood is not None and ood.method == "knn" else None,
        "ood_threshold": (
            ood.threshold if ood is not None and np.isfinite(ood.threshold) else None
        ),
        "probability_threshold": classifier.threshold,
        "in": in_report,
        "out": out_report,
        "auroc_ood_score": (
            _none_if_nan(auroc(in_scored["ood_score"], out_scored["ood_score"]))
            if ood is not None
            else None
        ),
        "auroc_max_probability": _none_if_nan(
            auroc(max_probability_score(in_scored), max_probability_score(out_scored))
        ),
        "auroc_energy": _none_if_nan(
            auroc(
                energy_score(in_scored["logits"], classifier.temperature),
                energy_score(out_scored["logits"], classifier.temperature),
            )
        ),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def format_report(report: dict[str, Any]) -> str:
    in_r, out_r = report["in"], report["out"]
    check = (
        f"OOD check: {report['ood_method']}"
        + (f" (k={report['ood_k']})" if report["ood_k"] else "")
        + ", threshold "
        f"{_num(report['ood_threshold'])}"
        if report["ood_available"]
        else "OOD check: unavailable (the artifact has no OOD statistics)"
    )

    def in_line(part: dict[str, Any], prefix: str) -> str:
        return (
            f"{prefix} {part['data']} ({part['split']}, n={part['n']}): abstained "
            f"{_pct(part['abstention'])} (low confidence {_pct(part['low_confidence'])}, "
            f"unlike training data {_pct(part['out_of_distribution'])}); accuracy "
            f"{_pct(part['accuracy'])}, on answered rows {_pct(part['accuracy_answered'])}"
        )

    sources = in_r.get("sources", [])
    per_source = [in_line(part, "  of which") for part in sources] if len(sources) > 1 else []
    return "\n".join(
        [
            f"model {report['model_version']} ({report['precision']})",
            check,
            in_line(in_r, "in scope  "),
            *per_source,
            f"out of scope {out_r['data']} (n={out_r['n']}): abstained "
            f"{_pct(out_r['abstention'])} (low confidence {_pct(out_r['low_confidence'])}, "
            f"unlike training data {_pct(out_r['out_of_distribution'])})",
            f"AUROC out vs in: OOD score {_num(report['auroc_ood_score'])}, 1 - top probability "
            f"{_num(report['auroc_max_probability'])}, energy {_num(report['auroc_energy'])}",
        ]
    )


def run(args: argparse.Namespace) -> int:
    """Handler of ``medconsult evaluate-ood`` (see commands.py)."""
    from medconsult.config import get_settings
    from medconsult.ml.artifacts import require_default_model_dir

    model_dir = Path(args.model) if args.model else require_default_model_dir(get_settings())
    report = evaluate_ood(
        model_dir,
        [Path(path) for path in args.in_data],
        Path(args.out_data),
        device=args.device,
        precision=args.precision,
    )
    print(json.dumps(report) if args.format == "json" else format_report(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return options.main("evaluate-ood", __doc__, options.add_evaluate_ood_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
