"""Model card (``README.md`` of an artifact) in the Hugging Face format: YAML metadata + prose."""

from __future__ import annotations

import json
from typing import Any

from medconsult.ml.labels import all_labels

LICENCE_NOTE = (
    "Training data: the Symptom2Disease data set (Kaggle niyarrbarman/symptom2disease, made by "
    "the DiagnoAI project), deduplicated; its authors state no licence, so it is treated as "
    "research/demo data. The base checkpoint sentence-transformers/all-MiniLM-L6-v2 is Apache-2.0."
)


def _out_of_fold(metrics: dict[str, Any]) -> bool:
    """Whether the figures are a cross-validation's out-of-fold ones (a final model trained on
    every row) rather than the artifact's own validation split's."""
    return metrics.get("split") == "out-of-fold"


def _held_out(metrics: dict[str, Any]) -> str:
    return "out-of-fold" if _out_of_fold(metrics) else "validation"


def _metric_rows(metrics: dict[str, Any]) -> str:
    model = metrics.get("validation", {})
    baseline = metrics.get("baseline_tfidf_logreg", {})
    names = [
        ("accuracy", "Accuracy"),
        ("macro_f1", "Macro-F1"),
        ("top3_accuracy", "Top-3 accuracy"),
        ("ece", "ECE (15 bins)"),
        ("abstain_rate", "Abstention rate"),
        ("precision_when_answered", "Precision when answered"),
    ]
    rows = ["| Metric | This model (calibrated) | TF-IDF + LR baseline |", "| --- | --- | --- |"]
    for key, title in names:
        ours = model.get(key)
        theirs = baseline.get(key)
        rows.append(
            f"| {title} | {ours:.4f} | {theirs:.4f} |"
            if isinstance(ours, float) and isinstance(theirs, float)
            else f"| {title} | {ours} | {theirs} |"
        )
    return "\n".join(rows)


def _precision_note(metrics: dict[str, Any]) -> str:
    bf16 = metrics.get("validation_bf16")
    if isinstance(bf16, dict) and "skipped" in bf16:
        return f"bf16: {bf16['skipped']}."
    if not isinstance(bf16, dict) or "agreement_with_fp32" not in bf16:
        return "Not measured for this artifact: see `medconsult evaluate --bf16`."
    return (
        f"On CPUs with native bf16 dot products the service runs the matrix products in bf16 "
        f"by default. On the validation rows bf16 agrees with full precision on "
        f"{100 * float(bf16['agreement_with_fp32']):.1f}% of top-1 suggestions (largest "
        f"probability difference {float(bf16['max_abs_probability_difference']):.4f}); "
        f"accuracy {float(bf16['accuracy']):.4f}, macro-F1 {float(bf16['macro_f1']):.4f}, "
        f"ECE {float(bf16['ece']):.4f}. `MEDCONSULT_INFERENCE_PRECISION=fp32` serves in full "
        "precision."
    )


def _ood_note(ood: dict[str, Any] | None, held_out: str) -> str:
    if not ood:
        return (
            "None: this artifact has no out-of-distribution statistics; suggestions abstain on "
            "low confidence only."
        )
    threshold = ood.get("threshold")
    out_of_fold = ood.get("validation_abstention_out_of_fold")
    return (
        f"Method `{ood.get('method')}`"
        + (f" (k = {ood.get('k')})" if ood.get("k") else "")
        + f": {ood.get('score')}, on the "
        f"{ood.get('feature')}. Reference: {ood.get('n_reference')} training cases. A case "
        "scoring above the threshold "
        + (f"{float(threshold):.4f}" if threshold is not None else "(none)")
        + " abstains as unlike the training data. The threshold was chosen on the "
        f"{ood.get('n_validation')} {held_out} cases so that at most "
        f"{100 * float(ood.get('target_abstention', 0)):.0f} % of them abstain for either reason: "
        f"{100 * float(ood.get('validation_abstention', 0)):.1f} % abstain there"
        + (
            f" ({100 * float(out_of_fold):.1f} % with thresholds fitted on the other folds, "
            "5-fold)."
            if out_of_fold is not None
            else "."
        )
        + " Abstention on out-of-scope texts: `medconsult evaluate-ood`."
    )


def _per_source_note(metrics: dict[str, Any], calibration: dict[str, Any]) -> str:
    """Validation figures per source, with the differential (DDXPlus) where there is one."""
    per_source = metrics.get("validation_per_source") or {}
    if not per_source:
        return ""
    lines = [
        f"Per source ({_held_out(metrics)} rows of each training file):",
        "",
        "| source | n | accuracy | macro-F1 | GTPA@1 | DDR | DDP | DDF1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for source, entry in per_source.items():
        d = entry.get("differential") or {}
        cells = [
            f"{d[key]:.4f}" if key in d else "-" for key in ("gtpa_at_1", "ddr", "ddp", "ddf1")
        ]
        lines.append(
            f"| {source} | {entry['n']} | {entry['accuracy']:.4f} | {entry['macro_f1']:.4f} | "
            + " | ".join(cells)
            + " |"
        )
    partial = metrics.get("validation_partial_interview")
    lines.append("")
    lines.append(
        "The differential is every label with probability at or above "
        f"{calibration.get('differential_threshold')} at temperature "
        f"{calibration.get('differential_temperature', calibration.get('temperature'))} "
        f"(both chosen on {_held_out(metrics)} rows for DDF1)."
    )
    if partial:
        lines.append(
            f"After a short interview (a random subset of each DDXPlus case's answers): GTPA@1 "
            f"{partial['gtpa_at_1']:.4f}, DDF1 {partial['ddf1']:.4f} (n = {partial['n']})."
        )
    structured_metrics = metrics.get("validation_structured_differential")
    if structured_metrics:
        lines.append("")
        lines.append(
            "For a structured case (intake answers) the differential is chosen by a model of the "
            "answers (`structured_differential.json`: one gradient-boosted tree ensemble per "
            "DDXPlus condition, membership >= 0.5) together with the classifier's first choice:"
        )
        for name, words in (
            ("full_answers", "every answer"),
            ("partial_answers", "after a short interview"),
        ):
            if entry := structured_metrics.get(name):
                lines.append(
                    f"- {words}: DDR {entry['ddr']:.4f}, DDP {entry['ddp']:.4f}, DDF1 "
                    f"{entry['ddf1']:.4f}, {entry['mean_differential_size']:.1f} conditions on "
                    f"average (n = {entry['n']})."
                )
    return "\n".join(lines)


def _served_model(training_args: dict[str, Any]) -> str:
    if training_args.get("hybrid"):
        return (
            "Served as a hybrid: the weighted mean of the transformer's probabilities (weight "
            f"{training_args.get('hybrid_weight', 0.5)}) and those of a "
            "TF-IDF + logistic-regression model fitted on the same training rows (`tfidf.json`, "
            "`tfidf.npz`; "
            + (
                "word uni+bigrams and character 2-5-grams within words"
                if training_args.get("lexical_features", "word") == "word+char"
                else "word uni+bigrams"
            )
            + "), calibrated together"
            + (
                " on the cross-validation folds' out-of-fold predictions."
                if training_args.get("calibration_from")
                else "; the epoch was chosen on the transformer alone."
            )
        )
    return "Served as the transformer alone."


def _data_files(training_args: dict[str, Any]) -> str:
    files = training_args.get("data_files") or [
        {"path": training_args.get("data"), "sha256": training_args.get("data_sha256")}
    ]
    return ", ".join(f"`{entry.get('path')}` (sha256 `{entry.get('sha256')}`)" for entry in files)


def render_model_card(
    *,
    version: str,
    training_args: dict[str, Any],
    metrics: dict[str, Any],
    calibration: dict[str, Any],
    ood: dict[str, Any] | None = None,
) -> str:
    validation = metrics.get("validation", {})
    labels = all_labels()
    yaml_metrics = "\n".join(
        f"          - type: {key}\n            value: {float(validation[key]):.4f}"
        for key in ("accuracy", "macro_f1", "top3_accuracy", "ece")
        if key in validation
    )
    label_table = "\n".join(
        f"| `{label.key}` | {label.display_name} | {label.icd10} | {label.urgency} |"
        for label in labels
    )
    base_name = str(training_args.get("base_model_name"))
    base_model = (
        "sentence-transformers/all-MiniLM-L6-v2" if base_name == "all-MiniLM-L6-v2" else base_name
    )
    out_of_fold = _out_of_fold(metrics)
    cross_validation = metrics.get("cross_validation") or {}
    folds = f"{cross_validation.get('folds')}-fold cross-validation"
    dataset_name = (
        f"symptom2disease and ddxplus (out-of-fold, {folds}, seed {cross_validation.get('seed')})"
        if out_of_fold
        else f"symptom2disease (validation split, seed {training_args.get('seed')}, "
        f"fraction {training_args.get('val_fraction')})"
    )
    if out_of_fold:
        rows = (
            f"every one of the {training_args.get('n_train')} rows trains this model; its "
            f"figures below are the out-of-fold predictions of a {folds} with the same "
            f"settings (`{cross_validation.get('report')}`)."
        )
        schedule = (
            f"{training_args.get('epochs')} epochs, the last one kept (as in the "
            "cross-validation folds)"
        )
        evaluation = f"out-of-fold, {folds}"
        calibration_note = (
            f"Temperature scaling fitted on the out-of-fold predictions of the {folds}: "
            f"T = {calibration.get('temperature'):.4f}. Abstention threshold "
            f"{calibration.get('threshold'):.4f}: {calibration.get('threshold_rule')}. Below it "
            "the suggestion is still shown but marked as abstained (the model is unsure). The "
            "figures above are the fold models' on rows each never trained on; this model, "
            "trained on every row, has no held-out row of its own."
        )
    else:
        rows = (
            f"each file split (stratified) with seed {training_args.get('seed')}: "
            f"{training_args.get('n_train')} training rows, {training_args.get('n_val')} "
            "validation rows."
        )
        schedule = (
            f"up to {training_args.get('epochs')} epochs with early stopping on validation "
            f"macro-F1 (best epoch {training_args.get('best_epoch')})"
        )
        evaluation = "validation split"
        calibration_note = (
            "Temperature scaling fitted on the validation split: "
            f"T = {calibration.get('temperature'):.4f}. Abstention threshold "
            f"{calibration.get('threshold'):.4f}: {calibration.get('threshold_rule')}. Below it "
            "the suggestion is still shown but marked as abstained (the model is unsure). The "
            "temperature and threshold were fitted on the same validation rows they are "
            "reported on, so the ECE and abstention figures above are optimistic."
        )
    data_args = " ".join(
        f"--data {entry.get('path')}"
        for entry in training_args.get("data_files") or [{"path": training_args.get("data")}]
    )
    reproduce = (
        f"medconsult train {data_args} "
        f"--epochs {training_args.get('epochs')} --seed {training_args.get('seed')} "
        f"--max-length {training_args.get('max_length')} --lr {training_args.get('learning_rate')}"
        + (f" --calibration-from {cross_validation.get('report')}" if out_of_fold else "")
    )
    return f"""---
language: en
library_name: transformers
pipeline_tag: text-classification
license: other
base_model: {base_model}
tags:
  - medical
  - text-classification
  - decision-support
datasets:
  - symptom2disease
model-index:
  - name: medconsult-diagnosis-{version}
    results:
      - task:
          type: text-classification
        dataset:
          name: {dataset_name}
          type: symptom2disease
        metrics:
{yaml_metrics}
---

# MedConsult diagnostic classifier `{version}`

Proposes likely diagnoses (one of {len(labels)} conditions, with ICD-10 codes) from a patient's
free-text description of their symptoms.

## Intended use

Decision support for doctors on the MedConsult platform: every suggestion is shown to a doctor,
who reviews it and decides. **Not for clinical decision-making on its own**, not a substitute for
a clinician, and not for use by patients without a doctor's review. Urgency is raised by explicit
red-flag rules (chest pain with breathlessness, stroke signs, severe bleeding, anaphylaxis signs,
suicidal thoughts, ...), not left to the model's probabilities.

## Training

- Base model: `{training_args.get("base_model_name")}` fine-tuned with a new classification head.
- Data: {_data_files(training_args)};
  {training_args.get("n_rows")} rows; {rows}
- AdamW, peak learning rate {training_args.get("learning_rate")}, linear warm-up
  ({training_args.get("warmup_ratio")}) and decay, batch size {training_args.get("batch_size")},
  {schedule}, max length {training_args.get("max_length")}
  tokens. Longer texts are read as overlapping windows (stride {training_args.get("stride")}),
  whose logits are averaged. Batches are cut from length-sorted groups of
  {training_args.get("length_group", 1)} batches (1: random batches).
- {_served_model(training_args)}
- Device: {training_args.get("device")}; trained in {training_args.get("train_seconds")} s.

## Data and licence

{LICENCE_NOTE} The symptom descriptions are short, first-person, English and written for a
Kaggle data set: they are not real consultations. Neither data set is for clinical
decision-making.

## Evaluation ({evaluation})

{_metric_rows(metrics)}

The {evaluation} has {validation.get("n")} rows, so one error moves accuracy by about
{100.0 / max(int(validation.get("n", 1) or 1), 1):.2g} points; published results on this data
are nearly saturated (TF-IDF + LR about 97-98 %).

{_per_source_note(metrics, calibration)}

## Serving precision

{_precision_note(metrics)}

## Calibration

{calibration_note}

## Out-of-distribution check

{_ood_note(ood, _held_out(metrics))}

## Limitations

- Only the {len(labels)} conditions below are known; any other condition is forced into one
  of them. Abstention lowers but does not remove this risk.
- Trained on short, synthetic-style English descriptions; accuracy on real, long, multilingual,
  misspelled or multi-condition histories is unknown and likely much lower.
- Small data set (under 1,000 rows); validation metrics have wide confidence intervals.
- Evidence highlights (gradient x activation) show which words drove the score, not medical reasons.

## Labels

| Key | Name | ICD-10 | Default urgency |
| --- | --- | --- | --- |
{label_table}

## Reproduce

```
{reproduce}
```

Training arguments: `training_args.json`; calibration: `calibration.json`; metrics and per-epoch
history: `metrics.json`.

<!-- {json.dumps({"version": version})} -->
"""
