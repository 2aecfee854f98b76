"""``medconsult train | evaluate | evaluate-ood | cv | predict``: subcommands for the project's CLI.

``cli.py`` calls ``register(subparsers)``; each subcommand sets ``func(args) -> int``. Nothing
here imports torch at import time: the heavy modules are imported inside the handlers, so the
rest of the CLI (and the web app) stays fast and torch-free. Each module runs on its own too
(``python -m medconsult.ml.<module>``) through ``options.main``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from medconsult.ml import options
from medconsult.ml.errors import exit_status

Handler = Callable[[argparse.Namespace], int]


def _train(args: argparse.Namespace) -> int:
    from medconsult.ml import train

    return exit_status(lambda: train.run(args))


def _evaluate(args: argparse.Namespace) -> int:
    from medconsult.ml import evaluate

    return exit_status(lambda: evaluate.run(args))


def _evaluate_ood(args: argparse.Namespace) -> int:
    from medconsult.ml import evaluate_ood

    return exit_status(lambda: evaluate_ood.run(args))


def _cv(args: argparse.Namespace) -> int:
    from medconsult.ml import crossval

    return exit_status(lambda: crossval.run(args))


def _predict(args: argparse.Namespace) -> int:
    from medconsult.ml import predict

    return exit_status(lambda: predict.run(args))


# name: (help, how to add its options, handler), in the order ``medconsult --help`` lists them.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {
    "train": (
        "fine-tune the diagnostic classifier and write an artifact",
        options.add_train_arguments,
        _train,
    ),
    "evaluate": (
        "evaluate an artifact (and a TF-IDF baseline) on labelled data",
        options.add_evaluate_arguments,
        _evaluate,
    ),
    "evaluate-ood": (
        "abstention on in-scope and out-of-scope texts, AUROC of the OOD score",
        options.add_evaluate_ood_arguments,
        _evaluate_ood,
    ),
    "cv": (
        "k-fold cross-validation of the model and the TF-IDF baseline on the same folds",
        options.add_cv_arguments,
        _cv,
    ),
    "predict": (
        "suggest diagnoses for patient text",
        options.add_predict_arguments,
        _predict,
    ),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands of ``COMMANDS``."""
    for name, (help_text, add_arguments, handler) in COMMANDS.items():
        command = subparsers.add_parser(name, help=help_text)
        add_arguments(command)
        command.set_defaults(func=handler)
