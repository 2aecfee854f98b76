"""``medconsult evaluate-interview``: simulated interviews on held-out DDXPlus patients."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from medconsult.ml import options


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    command = subparsers.add_parser(
        "evaluate-interview",
        help="simulate intake interviews on held-out DDXPlus patients (questions asked, GTPA@1)",
    )
    command.add_argument(
        "--data", type=Path, default=Path("data/ddxplus/patients.csv"), help="DDXPlus patients"
    )
    command.add_argument(
        "--max-questions",
        type=int,
        default=None,
        help="default: MEDCONSULT_INTERVIEW_MAX_QUESTIONS",
    )
    command.add_argument("--limit", type=int, default=None, help="score only this many patients")
    options.add_format_argument(command)
    command.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from medconsult.interview import evaluate
    from medconsult.ml.errors import DataFormatError

    try:
        report = evaluate.evaluate(args.data, max_questions=args.max_questions, limit=args.limit)
    except (OSError, DataFormatError) as exc:
        print(f"evaluate-interview: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.format == "json" else report.to_text())
    return 0
