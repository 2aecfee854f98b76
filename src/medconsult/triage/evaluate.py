"""``medconsult evaluate-triage``: the red-flag triage on a CSV of cases, scored the way
Semigran et al. (BMJ 2015) scored 23 online symptom checkers.

Input columns: those of ``semigran_vignettes.csv`` (``id``, ``triage``, ``vignette``, and
``symptoms``/``age``/``sex`` for the simplified arm), or a development set with ``id``,
``triage`` and ``text`` (one arm). ``triage`` is ``emergent`` | ``non_emergent`` | ``self_care``.

Final triage: the three levels of ``levels.py``: ``emergency`` when either layer raises a red
flag; else ``self-care`` for a clearly self-care presentation (by the rules, and with ``--model``
also by the top label's default urgency when the model answers in scope, combined as
``levels.json`` says); else the model's urgent/routine, or routine without a model. Product
urgency maps to the paper's categories as its README says: emergency -> emergent; urgent and
routine -> non_emergent; self-care -> self_care.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medconsult.triage import levels
from medconsult.triage.rules import Flag, find_flags

# Semigran et al. 2015, 23 symptom checkers: appropriate triage advice.
PAPER = {"emergent": 0.80, "non_emergent": 0.55, "self_care": 0.33, "overall": 0.57}
CATEGORIES = ("emergent", "non_emergent", "self_care")
TO_PAPER = {
    "emergency": "emergent",
    "urgent": "non_emergent",
    "routine": "non_emergent",
    "self-care": "self_care",
}

FlagFinder = Callable[[str], list[Flag]]


@dataclass(frozen=True)
class Case:
    id: str
    expected: str
    text: str
    label: str  # the diagnosis or category, for the list of misses


def _simplified(row: dict[str, str]) -> str:
    """``I am a <age>-old <woman|man|girl|boy>. My symptoms: <symptoms>.`` (the README's form)."""
    number, _sep, unit = (row.get("age") or "").partition(" ")
    unit = unit.rstrip("s") or "year"
    adult = unit == "year" and number.isdigit() and int(number) >= 18
    sex = (row.get("sex") or "").lower()
    person = {
        ("female", True): "woman",
        ("male", True): "man",
        ("female", False): "girl",
        ("male", False): "boy",
    }.get((sex, adult), "person")
    symptoms = row["symptoms"].strip().rstrip(".")
    return f"I am a {number}-{unit}-old {person}. My symptoms: {symptoms}."


def read_arms(path: Path) -> dict[str, list[Case]]:
    """The input arms of a CSV: ``vignette`` and ``simplified`` for Semigran, else ``text``."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path}: no rows")
    for row in rows:
        if row.get("triage") not in CATEGORIES:
            raise ValueError(
                f"{path}: row {row.get('id')!r} has unknown triage {row.get('triage')!r}"
            )
    if "vignette" in rows[0]:
        return {
            "vignette": [
                Case(r["id"], r["triage"], r["vignette"], r.get("diagnosis", "")) for r in rows
            ],
            "simplified": [
                Case(r["id"], r["triage"], _simplified(r), r.get("diagnosis", ""))
                for r in rows
                if (r.get("symptoms") or "").strip()
            ],
        }
    if "text" in rows[0]:
        return {
            "text": [Case(r["id"], r["triage"], r["text"], r.get("category", "")) for r in rows]
        }
    raise ValueError(f"{path}: expected a 'vignette' or a 'text' column")


def triage(
    text: str,
    finders: Sequence[FlagFinder],
    *,
    model_urgency: str | None = None,
    settings: levels.Settings | None = None,
) -> tuple[str, list[Flag]]:
    """(final urgency, flags) for one text; ``model_urgency``: the default urgency of the
    model's top label when it answered in scope, else None."""
    flags = [flag for finder in finders for flag in finder(text)]
    level = levels.level(text, flagged=bool(flags), model_urgency=model_urgency, settings=settings)
    return levels.urgency(level, model_urgency), flags


def model_urgencies(texts: Sequence[str], model_dir: Path) -> list[str | None]:
    """For each text, the default urgency of the model's top label, or None if it abstains."""
    from medconsult.ml.predict import Classifier

    classifier = Classifier.load(model_dir)
    urgency_of = {label.key: label.urgency for label in classifier.labels}
    result: list[str | None] = []
    for start in range(0, len(texts), 32):
        for suggestion in classifier.suggest(list(texts[start : start + 32]), explain=False):
            result.append(None if suggestion.abstained else urgency_of[suggestion.top.key])
    return result


def score_arm(
    cases: Sequence[Case],
    finders: Sequence[FlagFinder],
    *,
    model: Sequence[str | None] | None = None,
    settings: levels.Settings | None = None,
) -> dict[str, Any]:
    per: dict[str, list[bool]] = {category: [] for category in CATEGORIES}
    missed = []
    false_alarms = []
    for index, case in enumerate(cases):
        urgency, flags = triage(
            case.text,
            finders,
            model_urgency=None if model is None else model[index],
            settings=settings,
        )
        predicted = TO_PAPER[urgency]
        per[case.expected].append(predicted == case.expected)
        if case.expected == "emergent" and predicted != "emergent":
            missed.append({"id": case.id, "label": case.label})
        if case.expected != "emergent" and predicted == "emergent":
            false_alarms.append(
                {"id": case.id, "categories": sorted({flag.category for flag in flags})}
            )
    total = sum(len(v) for v in per.values())
    return {
        "n": total,
        "appropriate": {
            category: (round(sum(v) / len(v), 4) if v else None) for category, v in per.items()
        }
        | {"overall": round(sum(sum(v) for v in per.values()) / max(1, total), 4)},
        "counts": {category: f"{sum(v)}/{len(v)}" for category, v in per.items()},
        "emergent_missed": missed,
        "false_alarms": false_alarms,
    }


def evaluate(path: Path, *, semantic: bool = True, model_dir: Path | None = None) -> dict[str, Any]:
    """Score every arm of ``path`` with the rules and, if ``semantic``, the semantic layer;
    with ``model_dir``, the model's answers take part in the three-level triage."""
    finders: list[FlagFinder] = [find_flags]
    if semantic:
        from medconsult.triage.semantic import shared

        finders.append(shared().flags)
    arms = read_arms(path)
    scored = {}
    for arm, cases in arms.items():
        model = None if model_dir is None else model_urgencies([c.text for c in cases], model_dir)
        scored[arm] = score_arm(cases, finders, model=model)
    settings = levels.settings()
    return {
        "data": str(path),
        "layers": ["rules", "semantic"] if semantic else ["rules"],
        "model": None if model_dir is None else str(model_dir),
        "levels": {"mode": settings.mode, "max_days": settings.max_days},
        "paper_symptom_checkers": PAPER,
        "arms": scored,
    }


def format_text(result: dict[str, Any]) -> str:
    lines = [
        f"triage layers: {', '.join(result['layers'])}   model: {result.get('model') or 'none'}"
        f"   data: {result['data']}"
    ]
    header = f"{'arm':<12}{'n':>4}  " + "  ".join(f"{c:>14}" for c in (*CATEGORIES, "overall"))
    lines.append(header)
    paper = result["paper_symptom_checkers"]
    lines.append(
        f"{'paper':<12}{'':>4}  "
        + "  ".join(f"{paper[c]:>14.2f}" for c in (*CATEGORIES, "overall"))
    )
    for arm, scored in result["arms"].items():
        cells = []
        for category in (*CATEGORIES, "overall"):
            value = scored["appropriate"][category]
            count = scored["counts"].get(category, "")
            cells.append(f"{'-' if value is None else f'{value:.2f}'} {count}".rjust(14))
        lines.append(f"{arm:<12}{scored['n']:>4}  " + "  ".join(cells))
    for arm, scored in result["arms"].items():
        missed = ", ".join(f"{m['id']} ({m['label']})" for m in scored["emergent_missed"])
        lines.append(f"{arm}: emergent cases missed: {missed or 'none'}")
        alarms = ", ".join(f"{a['id']} {'/'.join(a['categories'])}" for a in scored["false_alarms"])
        lines.append(f"{arm}: non-emergent cases flagged emergency: {alarms or 'none'}")
    return "\n".join(lines)


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, separators=(",", ":"))
