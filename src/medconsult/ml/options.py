"""Command-line options and their defaults for ``medconsult train | evaluate | predict``.

Torch-free, so that ``commands.register`` can build the CLI without importing torch; the
entry points (train.py, evaluate.py, predict.py) read their defaults from this one block.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medconsult.ml.baseline import FEATURES
from medconsult.ml.errors import exit_status
from medconsult.ml.ood import DEFAULT_OOD_K, DEFAULT_OOD_METHOD, DEFAULT_TARGET_ABSTENTION

# --- defaults --------------------------------------------------------------------------------
# Training. Tuned on the validation split of symptom2disease with all-MiniLM-L6-v2 on a 2-core
# CPU. lr 8e-5 for 8 epochs underfits (below the TF-IDF baseline); 2e-4 with linear warm-up and
# decay beats it. Early stopping keeps the best epoch. The default data (Symptom2Disease +
# DDXPlus, 2,318 training texts, 3,502 windows, 219 steps per epoch) costs 5.0x a
# Symptom2Disease epoch (benchmarks/train_cost.py). 3 epochs (657 steps) left the 69-label model
# under-trained (validation loss still falling, below the TF-IDF baseline on top-1); with bf16
# mixed-precision steps (about 0.45 s a step on 2 idle cores instead of 0.65-0.8 s in fp32),
# 8 epochs (1,752 steps) fit in the same time budget. For Symptom2Disease alone pass --epochs 15.
DEFAULT_EPOCHS = 8  # upper bound; early stopping may end sooner
DEFAULT_LEARNING_RATE = 2e-4  # peak AdamW learning rate, reached after warm-up
DEFAULT_WARMUP_RATIO = 0.1  # fraction of all optimiser steps spent warming up linearly from 0
DEFAULT_WEIGHT_DECAY = 0.01  # AdamW decoupled weight decay (not on biases/LayerNorm)
DEFAULT_BATCH_SIZE = 16  # windows per optimiser step
# Batches are cut from groups of this many batches' windows sorted by length (then the batches
# are shuffled), as the Hugging Face Trainer's group_by_length: random batches of the default
# data (short Symptom2Disease texts beside 128-token DDXPlus windows) pad 1.41 tokens for every
# real one, grouped batches 1.01 (benchmarks/train_cost.py --grouping). 1: plain random batches.
DEFAULT_LENGTH_GROUP = 50
DEFAULT_TRAIN_PRECISION = "auto"  # bf16 mixed precision where the hardware has it
DEFAULT_MAX_GRAD_NORM = 1.0  # gradient clipping; guards the high learning rate early on
DEFAULT_PATIENCE = 5  # epochs without a better validation macro-F1 before stopping
# Label smoothing: without it the model pushes near-duplicate diseases (dengue / typhoid /
# malaria) to ~0 probability, so the second and third suggestions a doctor reads are noise.
DEFAULT_LABEL_SMOOTHING = 0.1
DEFAULT_VAL_FRACTION = 0.2  # 186 of 922 rows: one error costs ~0.5 point of accuracy
DEFAULT_SEED = 42  # split, head initialisation, shuffling and dropout
# Structured (DDXPlus) cases. Target of a case with a ground-truth differential: (1 - w) on its
# pathology + w spread over its differential, so the pathology stays the argmax (w < 0.5) and the
# other classes are ranked like the differential instead of uniformly. Chosen by 5-fold CV on
# DDXPlus with TF-IDF + LR (benchmarks/differential_targets.py): DDF1 0.398 (w = 0), 0.694
# (0.3), 0.720 (0.5), GTPA@1 0.986 / 0.986 / 0.984 (sd 0.005-0.008).
DEFAULT_DIFFERENTIAL_WEIGHT = 0.5
# The served model: the mean of the transformer's probabilities and those of a TF-IDF + LR model
# fitted on the same training rows (``baseline.hybrid_logits``), calibrated together. Chosen by
# 5-fold cross-validation (medconsult cv, 3 transformer folds so far): Symptom2Disease macro-F1
# 0.986 +- 0.003 for the hybrid against 0.979 +- 0.011 for the transformer alone on the same folds,
# DDXPlus GTPA@1 0.987 against 0.986; the probability rule's DDF1 0.680 against 0.704 (structured
# cases take their differential from the model of the answers instead).
DEFAULT_HYBRID = True
# The hybrid's TF-IDF half reads word uni+bigrams and character 2-5-grams within words
# ("word+char"), the comparison baseline words only ("word"). On the 5 folds of the default data
# the word+char model alone scores Symptom2Disease macro-F1 0.979 +- 0.014 against 0.968 +- 0.017
# for words only: spelling variants and word stems ("itching"/"itchy") share features.
DEFAULT_LEXICAL_FEATURES = "word+char"
# The transformer's weight in the hybrid's mean of probabilities (the TF-IDF half has the rest).
# Chosen on the held-out logits of cross-validation folds 0-3 of the default data (grid 0.2-0.8,
# the mean of Symptom2Disease macro-F1 and DDXPlus top-1; 0.3 also when chosen on each fold's
# three others); fold 4, not used in the choice, scores 0.968 with it. With it the 5-fold
# hybrid's Symptom2Disease macro-F1 is 0.985 +- 0.013 (README, "Data and model").
DEFAULT_HYBRID_WEIGHT = 0.3
# Share of the structured training cases rendered from a random subset of their answers in each
# epoch (a short interview), so the model gives sensible differentials after a few answers.
DEFAULT_PARTIAL_FRACTION = 0.3
# Cross-validation (medconsult cv): folds per data file.
DEFAULT_FOLDS = 5
# Windowing, shared by training, evaluation and serving (recorded in the artifact).
DEFAULT_MAX_LENGTH = 128  # tokens per window; every symptom2disease text fits in < 80 tokens
DEFAULT_STRIDE = 32  # tokens shared by consecutive windows of a long text
# Serving.
DEFAULT_TOP_K = 5  # suggestions per text shown to the doctor
# The longest differential stored with a suggestion (DDXPlus ground truths reach 30 conditions;
# the default model's differential holds about 7 on validation).
MAX_DIFFERENTIAL = 30
DEFAULT_INFERENCE_BATCH_SIZE = 32  # windows per forward pass; length-sorted to limit padding
# ----------------------------------------------------------------------------------------------

# The 5-fold cross-validation of RECIPE on the default data (``medconsult cv --out``), kept with
# the code like labels.json: the first-run model is the final model trained on every row with
# its out-of-fold calibration (``train --calibration-from``). A test fails when RECIPE or the
# data change without a new cross-validation.
CROSS_VALIDATION_REPORT = Path(__file__).with_name("cross_validation.json")

# The settings that make a trained model what it is. Cross-validation records them with its
# folds; a final model served with the folds' out-of-fold calibration must share every one.
RECIPE: dict[str, object] = {
    "epochs": DEFAULT_EPOCHS,
    "learning_rate": DEFAULT_LEARNING_RATE,
    "warmup_ratio": DEFAULT_WARMUP_RATIO,
    "weight_decay": DEFAULT_WEIGHT_DECAY,
    "batch_size": DEFAULT_BATCH_SIZE,
    "length_group": DEFAULT_LENGTH_GROUP,
    "hybrid": DEFAULT_HYBRID,
    "lexical_features": DEFAULT_LEXICAL_FEATURES,
    "hybrid_weight": DEFAULT_HYBRID_WEIGHT,
    "max_grad_norm": DEFAULT_MAX_GRAD_NORM,
    "label_smoothing": DEFAULT_LABEL_SMOOTHING,
    "max_length": DEFAULT_MAX_LENGTH,
    "stride": DEFAULT_STRIDE,
    "differential_weight": DEFAULT_DIFFERENTIAL_WEIGHT,
    "partial_fraction": DEFAULT_PARTIAL_FRACTION,
    "seed": DEFAULT_SEED,
    "ood_method": DEFAULT_OOD_METHOD,
    "ood_k": DEFAULT_OOD_K,
    "ood_target_abstention": DEFAULT_TARGET_ABSTENTION,
    "tiny": False,
}


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    """``--format text|json``: a report for people (default) or for programs."""
    parser.add_argument("--format", choices=["text", "json"], default="text")


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None, help="artifact dir (default: active)")


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")


def _add_precision(parser: argparse.ArgumentParser, default: str, help_text: str) -> None:
    parser.add_argument(
        "--precision", choices=["auto", "fp32", "bf16", "int8"], default=default, help=help_text
    )


def _add_setting(
    parser: argparse.ArgumentParser,
    flag: str,
    kind: type,
    default: object,
    what: str = "",
    **kwargs: Any,
) -> None:
    """An option whose help ends with its default."""
    help_text = f"{what} (default: %(default)s)" if what else "default: %(default)s"
    parser.add_argument(flag, type=kind, default=default, help=help_text, **kwargs)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        default=None,
        help="training data: a label,text CSV (Symptom2Disease, the feedback export) or a DDXPlus "
        "folder; repeat for several (default: data/symptom2disease/symptom2disease.csv and "
        "data/ddxplus)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="artifact dir to create (default: artifacts/diagnosis/<UTC time>-<base model>)",
    )
    parser.add_argument(
        "--base-model",
        type=Path,
        default=None,
        help="local BERT-family folder (default: the packaged all-MiniLM-L6-v2)",
    )
    _add_setting(parser, "--epochs", int, DEFAULT_EPOCHS, "max epochs")
    _add_setting(parser, "--lr", float, DEFAULT_LEARNING_RATE, dest="learning_rate")
    _add_setting(parser, "--batch-size", int, DEFAULT_BATCH_SIZE)
    _add_setting(
        parser,
        "--length-group",
        int,
        DEFAULT_LENGTH_GROUP,
        "batches per length-sorted group of training windows (1: random batches)",
    )
    _add_setting(parser, "--warmup-ratio", float, DEFAULT_WARMUP_RATIO)
    _add_setting(parser, "--weight-decay", float, DEFAULT_WEIGHT_DECAY)
    _add_setting(parser, "--patience", int, DEFAULT_PATIENCE)
    _add_setting(
        parser,
        "--label-smoothing",
        float,
        DEFAULT_LABEL_SMOOTHING,
        "cross-entropy label smoothing",
    )
    _add_setting(parser, "--max-length", int, DEFAULT_MAX_LENGTH, "tokens per window")
    _add_setting(parser, "--stride", int, DEFAULT_STRIDE, "tokens shared by windows")
    _add_setting(parser, "--val-fraction", float, DEFAULT_VAL_FRACTION)
    parser.add_argument(
        "--calibration-from",
        type=Path,
        default=None,
        metavar="CV_REPORT",
        help="train the final model on every row (no validation split, every epoch) and serve "
        "it with the out-of-fold calibration of this `medconsult cv --out` report, which must "
        "hold all folds of the same data and settings",
    )
    _add_setting(
        parser,
        "--differential-weight",
        float,
        DEFAULT_DIFFERENTIAL_WEIGHT,
        "target weight of a structured case's differential",
    )
    _add_setting(
        parser,
        "--partial-fraction",
        float,
        DEFAULT_PARTIAL_FRACTION,
        "share of structured cases rendered from a random subset of their answers each epoch",
    )
    _add_setting(parser, "--seed", int, DEFAULT_SEED)
    parser.add_argument(
        "--hybrid",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_HYBRID,
        help="serve the mean of the transformer's and a TF-IDF + LR model's probabilities "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--lexical-features",
        choices=FEATURES,
        default=DEFAULT_LEXICAL_FEATURES,
        help="what the hybrid's TF-IDF half reads: word uni+bigrams, or those and character "
        "2-5-grams within words (default: %(default)s)",
    )
    _add_setting(
        parser,
        "--hybrid-weight",
        float,
        DEFAULT_HYBRID_WEIGHT,
        "the transformer's weight in the hybrid's mean of probabilities",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (all)")
    _add_device(parser)
    parser.add_argument(
        "--precision",
        choices=["auto", "fp32"],
        default=DEFAULT_TRAIN_PRECISION,
        help="optimiser steps in bf16 mixed precision where the hardware has it (auto), or fp32",
    )
    parser.add_argument("--max-steps", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model(parser)
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        default=None,
        help="labelled data (CSV or DDXPlus folder); repeat for several, reported per source "
        "(default: the data files the model was trained on)",
    )
    parser.add_argument(
        "--split",
        choices=["auto", "validation", "train", "all"],
        default="auto",
        help="rows to score; auto: the validation split when --data is the model's training "
        "file (same sha256), else every row",
    )
    add_format_argument(parser)
    parser.add_argument("--plots", type=Path, default=None, help="where to write the PNG plots")
    parser.add_argument("--int8", action="store_true", help="also report int8 quantised metrics")
    parser.add_argument(
        "--bf16", action="store_true", help="also report metrics with bf16 matrix products"
    )
    _add_device(parser)


def add_evaluate_ood_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model(parser)
    parser.add_argument(
        "--in",
        dest="in_data",
        type=Path,
        action="append",
        required=True,
        help="in-scope labelled data: a label,text CSV or a DDXPlus folder (of one of the model's "
        "training files: its validation split); repeat for several",
    )
    parser.add_argument(
        "--out", dest="out_data", type=Path, required=True, help="out-of-scope CSV (label,text)"
    )
    add_format_argument(parser)
    _add_device(parser)
    _add_precision(parser, "fp32", "as for predict; default fp32, the reference (as evaluate)")


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="+", help="patient text(s) to classify")
    _add_model(parser)
    _add_device(parser)
    _add_precision(
        parser,
        "auto",
        "auto: bf16 on GPUs and on CPUs with native bf16, else fp32; int8: CPU dynamic "
        "quantisation (default: %(default)s)",
    )
    _add_setting(parser, "--top-k", int, DEFAULT_TOP_K)
    parser.add_argument("--no-evidence", action="store_true", help="skip the evidence pass")
    add_format_argument(parser)


def add_cv_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, action="append", default=None, help="repeatable")
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--model-folds",
        type=int,
        default=None,
        help="train the transformer on the first N folds only (0: baseline only; default: all)",
    )
    parser.add_argument(
        "--model-fold",
        type=int,
        action="append",
        default=None,
        metavar="F",
        help="train the transformer on fold F (0-based; repeatable) instead of the first N",
    )
    parser.add_argument("--epochs", type=int, default=None, help="transformer epochs per fold")
    parser.add_argument("--lr", dest="learning_rate", type=float, default=None, help="peak LR")
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument(
        "--lexical-features", choices=FEATURES, default=None, help="the hybrid's TF-IDF half"
    )
    parser.add_argument(
        "--hybrid-weight", type=float, default=None, help="the transformer's weight in the hybrid"
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="where fold models go")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")


def main(
    name: str,
    doc: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None = None,
) -> int:
    """Subcommand ``name`` as a program of its own (``python -m medconsult.ml.<module>``),
    described by the first line of ``doc`` (its module's docstring); its exit status, errors
    reported as the CLI reports them."""
    parser = argparse.ArgumentParser(prog=f"medconsult {name}", description=doc.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return exit_status(lambda: run(args))
