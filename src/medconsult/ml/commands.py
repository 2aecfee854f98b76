"""``medconsult train | evaluate | evaluate-ood | predict``: subcommands for the project's CLI.

``cli.py`` calls ``register(subparsers)``; each subcommand sets ``func(args) -> int``. Nothing
here imports torch at import time: the heavy modules are imported inside the handlers, so the
rest of the CLI (and the web app) stays fast and torch-free.
"""

from __future__ import annotations

import argparse

from medconsult.ml import options
from medconsult.ml.errors import exit_status


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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train``, ``evaluate`` and ``predict`` subcommands."""
    train = subparsers.add_parser(
        "train", help="fine-tune the diagnostic classifier and write an artifact"
    )
    options.add_train_arguments(train)
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="evaluate an artifact (and a TF-IDF baseline) on labelled data"
    )
    options.add_evaluate_arguments(evaluate)
    evaluate.set_defaults(func=_evaluate)

    evaluate_ood = subparsers.add_parser(
        "evaluate-ood",
        help="abstention on in-scope and out-of-scope texts, AUROC of the OOD score",
    )
    options.add_evaluate_ood_arguments(evaluate_ood)
    evaluate_ood.set_defaults(func=_evaluate_ood)

    cv = subparsers.add_parser(
        "cv", help="k-fold cross-validation of the model and the TF-IDF baseline on the same folds"
    )
    options.add_cv_arguments(cv)
    cv.set_defaults(func=_cv)

    predict = subparsers.add_parser("predict", help="suggest diagnoses for patient text")
    options.add_predict_arguments(predict)
    predict.set_defaults(func=_predict)
