"""Evaluate an artifact honestly: calibrated metrics, a same-split TF-IDF baseline, plots.

    python -m medconsult.ml.evaluate --model DIR [--data CSV] [--split auto] [--format json]
                                     [--plots DIR] [--int8] [--bf16]

``--data`` may be given several times (label,text CSVs and DDXPlus folders); without it, the
files the model was trained on are scored. Which rows of a file are scored (``--split auto``,
the default): when it is one of the files the model was trained on (same sha256 as recorded in
``training_args.json``), that file's validation split is rebuilt from the recorded seed and
fraction (each file is split on its own) and only it is scored, since the training rows were
seen in training. Any other file is scored whole. ``--split validation|train|all`` overrides.
A final model of cross-validation (trained on every row, ``train --calibration-from``) has no
validation split: its own files are refused unless ``--split train|all`` says so.

Reported overall and per source (``per_source``: symptom2disease, ddxplus, ...); for structured
cases with a ground-truth differential also GTPA@1/3/5, DDR, DDP and DDF1 (``metrics.py``), the
differential being the classes at or above the artifact's ``differential_threshold`` (the rule
for free text), and, where the artifact has a model of the answers, the differential the product
shows for a structured case (``structured_differential``: ``full_answers`` and
``partial_answers`` after a short interview, ``structured_eval.py``).

The model is scored through ``predict.Classifier``, exactly as served (windowing, temperature,
abstention threshold). Rows whose label the model does not know are counted in
``unknown_labels`` and left out of the metrics. The baseline (TF-IDF + logistic regression) is
fitted in this run on the model's own training split (rebuilt from the recorded training file)
and scored on the same rows with its raw probabilities and no abstention.

Every wrong first choice is listed (``errors``, most confident first, with its text's start and
whether the answer is in the case's ground-truth differential), so that confident errors can be
read and explained.

Metrics: accuracy, macro-F1, top-3 accuracy, ECE (15 equal-width bins, calibrated
probabilities), abstention rate and precision on the answered rows, for the model in fp32 (the
reference). ``--int8`` and ``--bf16`` add the same metrics for the int8 dynamically quantised
model and for bf16 matrix products (what the CPU service runs by default where the CPU has native
bf16), each with its agreement with fp32 and the largest probability difference.
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
from medconsult.ml.baseline import TfidfBaseline
from medconsult.ml.data import (
    LABEL2ID,
    LABELS,
    Dataset,
    concatenate,
    data_sha256,
    default_data_path,
    differential_class_ids,
    load_dataset,
    stratified_split,
)
from medconsult.ml.errors import ArtifactError, ModelError
from medconsult.ml.metrics import (
    DIFFERENTIAL_THRESHOLD,
    classification_metrics,
    per_source_metrics,
    precision_comparison,
    reliability_bins,
    softmax,
)
from medconsult.ml.predict import Classifier, resolve_precision
from medconsult.ml.structured_eval import (
    rendered,
    short_interviews,
    structured_differential_report,
)


def _read_training_args(model_dir: Path) -> dict[str, Any]:
    try:
        document = json.loads((model_dir / "training_args.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"artifact {model_dir}: unreadable training_args.json: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactError(f"artifact {model_dir}: training_args.json is not an object")
    return document


def recorded_files(training_args: dict[str, Any]) -> list[dict[str, Any]]:
    """The training files an artifact records (one for artifacts from before several)."""
    files = training_args.get("data_files")
    if isinstance(files, list) and files:
        return [dict(entry) for entry in files]
    return [{"path": training_args.get("data"), "sha256": training_args.get("data_sha256")}]


def choose_rows(
    dataset: Dataset, data_path: Path, training_args: dict[str, Any], split: str
) -> tuple[list[int], str]:
    """Row indices of one file to score and the name of what they are (see the docstring)."""
    recorded = {entry.get("sha256") for entry in recorded_files(training_args)}
    same_file = data_sha256(data_path) in recorded
    if split == "auto":
        split = "validation" if same_file else "all"
    if split == "all":
        return list(range(len(dataset))), "all"
    if not same_file:
        raise ModelError(
            f"--split {split} needs one of the model's training files; {data_path} is not one "
            f"of {', '.join(str(entry.get('path')) for entry in recorded_files(training_args))}"
            " (sha256 mismatch)"
        )
    if trained_on_every_row(training_args):
        if split == "validation":
            raise ModelError(
                f"the model trained on every row of {data_path}: it has no validation split "
                "(its held-out figures are its cross-validation's, in metrics.json); score "
                "other data, or pass --split train or all"
            )
        return list(range(len(dataset))), split
    train_idx, val_idx = stratified_split(
        dataset.labels, float(training_args["val_fraction"]), int(training_args["seed"])
    )
    return (val_idx if split == "validation" else train_idx), split


def trained_on_every_row(training_args: dict[str, Any]) -> bool:
    """A final model of cross-validation (``train --calibration-from``): no row held out."""
    return bool(training_args.get("calibration_from"))


def baseline_training_split(
    training_args: dict[str, Any], loaded: dict[str, Dataset] | None = None
) -> Dataset | None:
    """The model's training rows (every recorded file's training split), for fitting the
    baseline; None if a recorded file is unavailable or changed."""
    parts = []
    for entry in recorded_files(training_args):
        sha = entry.get("sha256")
        dataset = (loaded or {}).get(str(sha))
        if dataset is None:
            path = Path(str(entry.get("path", "")))
            if not path.exists() or data_sha256(path) != sha:
                return None
            dataset = load_dataset(path)
        if trained_on_every_row(training_args):
            parts.append(dataset)
            continue
        train_idx, _ = stratified_split(
            dataset.labels, float(training_args["val_fraction"]), int(training_args["seed"])
        )
        parts.append(dataset.subset(train_idx))
    return concatenate(parts) if parts else None


def _structured_differential(
    classifier: Classifier,
    dataset: Dataset,
    sources: list[str],
    truths: list[set[int] | None],
    probs: np.ndarray,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Per source with structured rows (and ``overall``): the structured differential (the
    model of the answers with the classifier's first choice) with every answer and after a
    short interview (the same random subsets as training's validation figures for the same
    rows)."""
    assert classifier.structured is not None
    structured_rows = [
        row
        for row in range(len(dataset))
        if truths[row] is not None and dataset.patient_of(row) is not None
    ]
    interviews = short_interviews(dataset, seed)
    interview_texts = rendered(dataset, interviews)
    interview_top = dict(
        zip(
            sorted(interviews),
            classifier.logits([interview_texts[row] for row in sorted(interviews)]).argmax(axis=1),
            strict=True,
        )
    )
    report: dict[str, dict[str, Any]] = {}
    for source in ["overall", *dict.fromkeys(sources[row] for row in structured_rows)]:
        rows = [row for row in structured_rows if source in ("overall", sources[row])]
        if not rows:
            continue
        asked = sorted(row for row in interviews if source in ("overall", sources[row]))
        report[source] = structured_differential_report(
            classifier.structured,
            dataset,
            rows,
            top_ids=probs[rows].argmax(axis=1),
            targets=np.array([LABEL2ID[str(dataset.labels[r])] for r in rows], dtype=np.int64),
            truths=[truths[row] or set() for row in rows],
            interviews={row: interviews[row] for row in asked},
            interview_top_ids=np.array([interview_top[row] for row in asked], dtype=np.int64),
        )
    return report


MAX_LISTED_ERRORS = 100  # the report's list of wrong answers, most confident first
ERROR_TEXT_CHARS = 200  # each listed error's text is cut to this many characters


def wrong_answers(
    probs: np.ndarray,
    targets: np.ndarray,
    dataset: Dataset,
    truths: Sequence[set[int] | None],
    threshold: float,
) -> list[dict[str, Any]]:
    """Every row whose first choice is not its label, most confident first: where it comes
    from, the label and the first choice (keys), the calibrated probabilities of both, whether
    the model abstained (low confidence; the OOD check is not applied here), whether the first
    choice is in the case's ground-truth differential (structured cases; None for free text),
    and the start of the text, so that each confident error can be read and explained."""
    keys = LABELS
    rows = [int(i) for i in np.flatnonzero(probs.argmax(axis=1) != targets)]
    errors = [
        {
            "source": dataset.source_of(row),
            "label": keys[int(targets[row])],
            "predicted": keys[int(probs[row].argmax())],
            "probability": round(float(probs[row].max()), 4),
            "label_probability": round(float(probs[row, int(targets[row])]), 4),
            "abstained": bool(probs[row].max() < threshold),
            "predicted_in_differential": None
            if truths[row] is None
            else int(probs[row].argmax()) in (truths[row] or set()),
            "text": dataset.texts[row][:ERROR_TEXT_CHARS],
        }
        for row in rows
    ]
    return sorted(errors, key=lambda error: -float(error["probability"]))


def evaluate(
    model_dir: Path,
    data_path: Path | Sequence[Path] | None = None,
    *,
    split: str = "auto",
    device: str = "auto",
    int8: bool = False,
    bf16: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (report, plot data). The report is what ``--format json`` prints."""
    classifier = Classifier.load(model_dir, device=device, precision="fp32", max_text_chars=10**9)
    training_args = _read_training_args(Path(model_dir))
    if data_path is None:
        recorded = [Path(str(entry.get("path"))) for entry in recorded_files(training_args)]
        paths = [path for path in recorded if path.exists()] or [default_data_path()]
    elif isinstance(data_path, Path):
        paths = [data_path]
    else:
        paths = [Path(path) for path in data_path]
    parts, split_names, loaded = [], [], {}
    for path in paths:
        dataset = load_dataset(path)
        loaded[data_sha256(path)] = dataset
        rows, split_name = choose_rows(dataset, path, training_args, split)
        parts.append(dataset.subset(rows))
        split_names.append(split_name)
    scored = concatenate(parts)
    known = [i for i, label in enumerate(scored.labels) if label is not None]
    known_rows = scored.subset(known)
    texts = [scored.texts[i] for i in known]
    targets = np.array([LABEL2ID[str(scored.labels[i])] for i in known], dtype=np.int64)
    sources = [scored.source_of(i) for i in known]
    row_truths = differential_class_ids(scored)  # once: the list is built per call
    truths = [row_truths[i] for i in known]
    differential_threshold = float(
        json.loads((Path(model_dir) / "calibration.json").read_text(encoding="utf-8")).get(
            "differential_threshold", DIFFERENTIAL_THRESHOLD
        )
    )

    logits = classifier.logits(texts) if texts else np.zeros((0, len(classifier.labels)))
    probs = softmax(logits, classifier.temperature)
    metrics = classification_metrics(probs, targets, classifier.threshold)
    report: dict[str, Any] = {
        "model": str(model_dir),
        "model_version": classifier.version,
        "data": ", ".join(str(path) for path in paths),
        "split": split_names[0] if len(set(split_names)) == 1 else "mixed",
        "files": [
            {"path": str(path), "split": name, "n": len(part)}
            for path, name, part in zip(paths, split_names, parts, strict=True)
        ],
        **metrics.to_dict(),
        "unknown_labels": len(scored) - len(known),
        "unknown_label_names": scored.unknown_labels,
        "temperature": classifier.temperature,
        "threshold": classifier.threshold,
        "differential_threshold": differential_threshold,
        "differential_temperature": classifier.differential_temperature,
        "device": str(classifier.device),
        # What the service runs at on this machine by default (see --bf16 / --int8).
        "served_precision": resolve_precision("auto", classifier.device),
    }
    report["per_source"] = (
        per_source_metrics(
            probs,
            targets,
            sources,
            truths,
            threshold=classifier.threshold,
            differential_threshold=differential_threshold,
            differential_probs=softmax(logits, classifier.differential_temperature),
        )
        if texts
        else {}
    )
    if classifier.structured is not None and texts:
        structured_reports = _structured_differential(
            classifier,
            known_rows,
            sources,
            truths,
            probs,
            int(training_args.get("seed", options.DEFAULT_SEED)),
        )
        for source, structured_report in structured_reports.items():
            report["per_source"][source]["structured_differential"] = structured_report
    errors = wrong_answers(probs, targets, known_rows, truths, classifier.threshold)
    report["errors_total"] = len(errors)
    report["errors"] = errors[:MAX_LISTED_ERRORS]
    uncalibrated = classification_metrics(softmax(logits), targets, classifier.threshold)
    report["ece_uncalibrated"] = uncalibrated.ece

    baseline_train = baseline_training_split(training_args, loaded)
    if baseline_train is None or not texts:
        report["baseline"] = None
        report["baseline_skipped"] = "the model's training files are not available"
    else:
        baseline = TfidfBaseline(len(classifier.labels)).fit(
            baseline_train.texts,
            [LABEL2ID[str(label)] for label in baseline_train.labels],
        )
        baseline_probs = baseline.predict_proba(texts)
        report["baseline"] = classification_metrics(
            baseline_probs, targets, threshold=0.0
        ).to_dict()
        report["baseline"]["note"] = "TF-IDF + LR on the model's training split; no abstention"
        report["baseline_per_source"] = per_source_metrics(
            baseline_probs,
            targets,
            sources,
            truths,
            threshold=0.0,
            differential_threshold=differential_threshold,
        )

    for precision, wanted in (("int8", int8), ("bf16", bf16)):
        if not wanted:
            continue
        # int8 is CPU-only; bf16 runs where the reference ran (packed engine on CPU).
        other = Classifier.load(
            model_dir,
            device="cpu" if precision == "int8" else device,
            precision=precision,
            max_text_chars=10**9,
        )
        other_probs = softmax(other.logits(texts), other.temperature)
        report[precision] = precision_comparison(probs, other_probs, targets, other.threshold)
    plot_data = {
        "targets": targets,
        "predictions": probs.argmax(axis=1) if len(texts) else np.zeros(0, dtype=np.int64),
        "labels": [label.display_name for label in classifier.labels],
        "reliability": reliability_bins(probs, targets),
        "reliability_uncalibrated": reliability_bins(softmax(logits), targets),
    }
    return report, plot_data


def write_plots(plot_data: dict[str, Any], out_dir: Path, title: str) -> list[Path]:
    """Confusion matrix and reliability diagram PNGs (matplotlib's Agg backend, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = plot_data["labels"]
    n = len(names)
    matrix = np.zeros((n, n), dtype=np.int64)
    for target, prediction in zip(plot_data["targets"], plot_data["predictions"], strict=True):
        matrix[int(target), int(prediction)] += 1

    figure, axis = plt.subplots(figsize=(11, 10))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(n), names, rotation=90, fontsize=8)
    axis.set_yticks(range(n), names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"Confusion matrix - {title}")
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                colour = "white" if matrix[i, j] > matrix.max() / 2 else "black"
                axis.text(
                    j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=colour
                )
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    confusion_path = out_dir / "confusion_matrix.png"
    figure.savefig(confusion_path, dpi=120)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(6, 6))
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for key, label, marker in (
        ("reliability_uncalibrated", "uncalibrated (T=1)", "s"),
        ("reliability", "temperature-scaled", "o"),
    ):
        bins = [b for b in plot_data[key] if b["count"] > 0]
        axis.plot(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker=marker,
            label=label,
        )
    axis.set_xlabel("confidence (top-1 probability)")
    axis.set_ylabel("accuracy")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    axis.set_title(f"Reliability diagram (15 bins) - {title}")
    axis.legend(loc="upper left")
    figure.tight_layout()
    reliability_path = out_dir / "reliability_diagram.png"
    figure.savefig(reliability_path, dpi=120)
    plt.close(figure)
    return [confusion_path, reliability_path]


def format_report(report: dict[str, Any]) -> str:
    keys = [
        ("accuracy", "accuracy"),
        ("macro_f1", "macro-F1"),
        ("top3_accuracy", "top-3 accuracy"),
        ("ece", "ECE (15 bins)"),
        ("abstain_rate", "abstention rate"),
        ("precision_when_answered", "precision when answered"),
    ]
    baseline = report.get("baseline") or {}
    others = {name: report[name] for name in ("int8", "bf16") if report.get(name)}
    header = f"{'metric':<26}{'model':>10}{'baseline':>10}" + "".join(
        f"{name:>10}" for name in others
    )
    lines = [
        f"model {report['model_version']} on {report['data']} ({report['split']}, "
        f"n={report['n']}, unknown labels: {report['unknown_labels']})",
        f"temperature {report['temperature']:.4f}, abstention threshold {report['threshold']:.4f}",
        "",
        header,
    ]
    for key, title in keys:
        line = f"{title:<26}{report[key]:>10.4f}"
        line += f"{baseline[key]:>10.4f}" if key in baseline else f"{'-':>10}"
        for other in others.values():
            line += f"{other[key]:>10.4f}"
        lines.append(line)
    lines.append(f"{'ECE before calibration':<26}{report['ece_uncalibrated']:>10.4f}")
    for name, other in others.items():
        lines.append(
            f"{name} agrees with fp32 on {100 * other['agreement_with_fp32']:.1f}% of rows "
            f"(largest probability difference {other['max_abs_probability_difference']:.4f})"
        )
    baseline_sources = report.get("baseline_per_source") or {}
    for source, entry in (report.get("per_source") or {}).items():
        line = (
            f"{source}: n={entry['n']}, accuracy {entry['accuracy']:.4f}, macro-F1 "
            f"{entry['macro_f1']:.4f}, ECE {entry['ece']:.4f}"
        )
        if source in baseline_sources:
            line += f" (baseline accuracy {baseline_sources[source]['accuracy']:.4f})"
        lines.append(line)
        if "differential" in entry:
            d = entry["differential"]
            lines.append(
                f"  differential (p >= {d['threshold']}): GTPA@1 {d['gtpa_at_1']:.4f}, GTPA@3 "
                f"{d['gtpa_at_3']:.4f}, DDR {d['ddr']:.4f}, DDP {d['ddp']:.4f}, DDF1 "
                f"{d['ddf1']:.4f}, mean size {d['mean_differential_size']:.1f}"
            )
        for arm, scores in (entry.get("structured_differential") or {}).items():
            lines.append(
                f"  structured differential, {arm.replace('_', ' ')} (n={scores['n']}): DDR "
                f"{scores['ddr']:.4f}, DDP {scores['ddp']:.4f}, DDF1 {scores['ddf1']:.4f}, "
                f"mean size {scores['mean_differential_size']:.1f}"
            )
    if report.get("errors"):
        lines.append(f"wrong answers: {report['errors_total']} (most confident first)")
        for error in report["errors"][:10]:
            note = " (abstained)" if error["abstained"] else ""
            if error["predicted_in_differential"]:
                note += " (in the case's differential)"
            lines.append(
                f"  {error['probability']:.3f} {error['predicted']} for {error['label']} "
                f"[{error['source']}]{note}: {error['text'][:100]!r}"
            )
    if report.get("baseline_skipped"):
        lines.append(f"baseline skipped: {report['baseline_skipped']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Handler of ``medconsult evaluate`` (see commands.py)."""
    from medconsult.config import get_settings
    from medconsult.ml.artifacts import require_default_model_dir

    model_dir = Path(args.model) if args.model else require_default_model_dir(get_settings())
    report, plot_data = evaluate(
        model_dir,
        [Path(path) for path in args.data] if args.data else None,
        split=args.split,
        device=args.device,
        int8=args.int8,
        bf16=args.bf16,
    )
    title = f"{report['model_version']} ({report['split']}, n={report['n']})"
    if args.format == "json":
        if args.plots:
            write_plots(plot_data, Path(args.plots), title)
        print(json.dumps(report))
        return 0
    print(format_report(report))
    # The artifact is immutable: plots go beside it, not into it.
    plots_dir = args.plots or model_dir.parent / f"{model_dir.name}.evaluation"
    for path in write_plots(plot_data, Path(plots_dir), title):
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return options.main("evaluate", __doc__, options.add_evaluate_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
