"""``medconsult evaluate-triage`` and ``medconsult tune-triage`` (torch only when run)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medconsult.ml import options


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    evaluate = subparsers.add_parser(
        "evaluate-triage",
        help="score the red-flag triage on a CSV (Semigran et al. 2015 columns, or id,triage,text)",
    )
    evaluate.add_argument("--data", type=Path, required=True, help="CSV of cases")
    options.add_format_argument(evaluate)
    evaluate.add_argument(
        "--rules-only", action="store_true", help="leave out the semantic layer (no torch)"
    )
    evaluate.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a trained artifact: its in-scope answers take part in the three-level triage",
    )
    evaluate.set_defaults(func=_evaluate)

    tune = subparsers.add_parser(
        "tune-triage",
        help="cross-validate the semantic layer's threshold on a development set (id,triage,text)",
    )
    tune.add_argument("--data", type=Path, default=Path("data/triage/dev.csv"))
    tune.add_argument("--folds", type=int, default=5)
    tune.add_argument("--max-false-alarm", type=float, default=None)
    tune.add_argument(
        "--levels",
        action="store_true",
        help="choose the three-level triage's mode and duration limit instead (levels.json)",
    )
    tune.add_argument("--model", type=Path, default=None, help="a trained artifact (--levels)")
    tune.set_defaults(func=_tune)


def _evaluate(args: argparse.Namespace) -> int:
    from medconsult.triage import evaluate

    try:
        result = evaluate.evaluate(args.data, semantic=not args.rules_only, model_dir=args.model)
    except (OSError, ValueError, KeyError) as exc:
        print(f"evaluate-triage: {exc}", file=sys.stderr)
        return 2
    print(evaluate.to_json(result) if args.format == "json" else evaluate.format_text(result))
    return 0


def _tune(args: argparse.Namespace) -> int:
    from medconsult.triage import tune

    limit = tune.DEFAULT_MAX_FALSE_ALARM if args.max_false_alarm is None else args.max_false_alarm
    try:
        if args.levels:
            result = tune.tune_levels(args.data, folds=args.folds, model_dir=args.model)
        else:
            result = tune.tune(args.data, folds=args.folds, max_false_alarm=limit)
    except (OSError, ValueError, KeyError) as exc:
        print(f"tune-triage: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, separators=(",", ":")))
    return 0
