"""Evaluate an artifact honestly: calibrated metrics, a same-split TF-IDF baseline, plots.

    python -m medconsult.ml.evaluate --model DIR [--data CSV] [--split auto] [--format json]
                                     [--plots DIR] [--int8] [--bf16]

Which rows are scored (``--split auto``, the default): when ``--data`` is the very file the model
was trained on (same sha256 as recorded in ``training_args.json``), the validation split is
rebuilt from the recorded seed and fraction and only it is scored, since the training rows were
seen in training. Any other file is scored whole. ``--split validation|train|all`` overrides.

The model is scored through ``predict.Classifier``, exactly as served (windowing, temperature,
abstention threshold). Rows whose label the model does not know are counted in
``unknown_labels`` and left out of the metrics. The baseline (TF-IDF + logistic regression) is
fitted in this run on the model's own training split (rebuilt from the recorded training file)
and scored on the same rows with its raw probabilities and no abstention.

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

from medconsult.ml.baseline import TfidfBaseline
from medconsult.ml.data import (
    LABEL2ID,
    Dataset,
    default_data_path,
    file_sha256,
    load_dataset,
    stratified_split,
)
from medconsult.ml.errors import ArtifactError, ModelError, exit_status
from medconsult.ml.metrics import (
    classification_metrics,
    precision_comparison,
    reliability_bins,
    softmax,
)
from medconsult.ml.options import add_evaluate_arguments
from medconsult.ml.predict import Classifier, resolve_precision


def _read_training_args(model_dir: Path) -> dict[str, Any]:
    try:
        document = json.loads((model_dir / "training_args.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"artifact {model_dir}: unreadable training_args.json: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactError(f"artifact {model_dir}: training_args.json is not an object")
    return document


def choose_rows(
    dataset: Dataset, data_path: Path, training_args: dict[str, Any], split: str
) -> tuple[list[int], str]:
    """Row indices to score and the name of what they are (see the module docstring)."""
    same_file = training_args.get("data_sha256") == file_sha256(data_path)
    if split == "auto":
        split = "validation" if same_file else "all"
    if split == "all":
        return list(range(len(dataset))), "all"
    if not same_file:
        raise ModelError(
            f"--split {split} needs the model's training file; {data_path} differs from "
            f"{training_args.get('data')} (sha256 mismatch)"
        )
    train_idx, val_idx = stratified_split(
        dataset.labels, float(training_args["val_fraction"]), int(training_args["seed"])
    )
    return (val_idx if split == "validation" else train_idx), split


def baseline_training_split(
    training_args: dict[str, Any], dataset: Dataset, data_path: Path
) -> Dataset | None:
    """The model's training rows, for fitting the baseline; None if that file is unavailable."""
    if training_args.get("data_sha256") == file_sha256(data_path):
        source = dataset
    else:
        recorded = Path(str(training_args.get("data", "")))
        if not recorded.is_file() or file_sha256(recorded) != training_args.get("data_sha256"):
            return None
        source = load_dataset(recorded)
    train_idx, _ = stratified_split(
        source.labels, float(training_args["val_fraction"]), int(training_args["seed"])
    )
    return source.subset(train_idx)


def evaluate(
    model_dir: Path,
    data_path: Path,
    *,
    split: str = "auto",
    device: str = "auto",
    int8: bool = False,
    bf16: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (report, plot data). The report is what ``--format json`` prints."""
    classifier = Classifier.load(model_dir, device=device, precision="fp32", max_text_chars=10**9)
    training_args = _read_training_args(Path(model_dir))
    dataset = load_dataset(data_path)
    rows, split_name = choose_rows(dataset, data_path, training_args, split)
    scored = dataset.subset(rows)
    known = [i for i, label in enumerate(scored.labels) if label is not None]
    texts = [scored.texts[i] for i in known]
    targets = np.array([LABEL2ID[str(scored.labels[i])] for i in known], dtype=np.int64)

    logits = classifier.logits(texts) if texts else np.zeros((0, len(classifier.labels)))
    probs = softmax(logits, classifier.temperature)
    metrics = classification_metrics(probs, targets, classifier.threshold)
    report: dict[str, Any] = {
        "model": str(model_dir),
        "model_version": classifier.version,
        "data": str(data_path),
        "split": split_name,
        **metrics.to_dict(),
        "unknown_labels": len(scored) - len(known),
        "unknown_label_names": scored.unknown_labels,
        "temperature": classifier.temperature,
        "threshold": classifier.threshold,
        "device": str(classifier.device),
        # What the service runs at on this machine by default (see --bf16 / --int8).
        "served_precision": resolve_precision("auto", classifier.device),
    }
    uncalibrated = classification_metrics(softmax(logits), targets, classifier.threshold)
    report["ece_uncalibrated"] = uncalibrated.ece

    baseline_train = baseline_training_split(training_args, dataset, data_path)
    if baseline_train is None or not texts:
        report["baseline"] = None
        report["baseline_skipped"] = "the model's training file is not available"
    else:
        baseline = TfidfBaseline(len(classifier.labels)).fit(
            baseline_train.texts,
            [LABEL2ID[str(label)] for label in baseline_train.labels],
        )
        report["baseline"] = classification_metrics(
            baseline.predict_proba(texts), targets, threshold=0.0
        ).to_dict()
        report["baseline"]["note"] = "TF-IDF + LR on the model's training split; no abstention"

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
    if report.get("baseline_skipped"):
        lines.append(f"baseline skipped: {report['baseline_skipped']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Handler of ``medconsult evaluate`` (see commands.py)."""
    from medconsult.config import get_settings
    from medconsult.ml.artifacts import require_default_model_dir

    model_dir = Path(args.model) if args.model else require_default_model_dir(get_settings())
    data_path = Path(args.data) if args.data else default_data_path()
    report, plot_data = evaluate(
        model_dir,
        data_path,
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
    parser = argparse.ArgumentParser(prog="medconsult evaluate", description=__doc__.split("\n")[0])
    add_evaluate_arguments(parser)
    args = parser.parse_args(argv)
    return exit_status(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
