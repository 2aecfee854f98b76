"""Scoring the structured differential (``structured.py``) on DDXPlus cases, as training records
it on validation and ``medconsult evaluate`` reports it on any DDXPlus rows: with every answer,
and after a short interview (a random subset of each case's answers, drawn with a fixed seed so
that both commands draw the same subsets for the same rows).

The product's differential for a structured case is the conditions the model of the answers
keeps (membership >= its threshold) plus the classifier's first choice; GTPA is therefore the
classifier's, and DDR / DDP / DDF1 are the differential's (``metrics.differential_metrics``).
Torch-free: the classifier's first choices come in as class ids.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from medconsult.ml import ddxplus
from medconsult.ml.data import LABEL2ID, LABELS, Dataset
from medconsult.ml.labels import canonical_key
from medconsult.ml.metrics import differential_metrics
from medconsult.ml.structured import StructuredCase, StructuredDifferential

# The short interviews' random subsets are drawn from Random(seed + this): training draws its
# partial training copies from Random(seed + 1), so the two never share a stream.
SHORT_INTERVIEW_SEED_OFFSET = 2

# Text in, the classifier's class ids of its first choices out.
TopChoices = Callable[[Sequence[str]], NDArray[np.int64]]


def partial_cases(
    dataset: Dataset, rng: random.Random, fraction: float
) -> dict[int, ddxplus.Answers]:
    """For a share ``fraction`` of the structured rows, a random subset of the case's answers
    (the chief complaint always kept), as after a short interview: {row: answers}."""
    if fraction <= 0:
        return {}
    questionnaire: ddxplus.Questionnaire | None = None
    cases: dict[int, ddxplus.Answers] = {}
    for row in range(len(dataset)):
        patient = dataset.patient_of(row)
        if patient is None or rng.random() >= fraction:
            continue
        questionnaire = questionnaire or ddxplus.load_questionnaire()
        cases[row] = ddxplus.partial_answers(
            patient.evidences, questionnaire, rng, keep=[patient.initial_evidence]
        )
    return cases


def rendered(dataset: Dataset, cases: dict[int, ddxplus.Answers]) -> dict[int, str]:
    """Each row's answers in ``cases`` rendered as the patient's text: {row: text}."""
    if not cases:
        return {}
    questionnaire = ddxplus.load_questionnaire()
    texts: dict[int, str] = {}
    for row, answers in cases.items():
        patient = _patient(dataset, row)
        texts[row] = ddxplus.render(answers, questionnaire, age=patient.age, sex=patient.sex)
    return texts


def partial_texts(dataset: Dataset, rng: random.Random, fraction: float) -> dict[int, str]:
    """``partial_cases`` rendered as text: {row: text}."""
    return rendered(dataset, partial_cases(dataset, rng, fraction))


def short_interviews(dataset: Dataset, seed: int) -> dict[int, ddxplus.Answers]:
    """Every structured row's short interview (see the module docstring): {row: answers}."""
    return partial_cases(dataset, random.Random(seed + SHORT_INTERVIEW_SEED_OFFSET), 1.0)


def structured_case(
    patient: ddxplus.Patient, answers: ddxplus.Answers | None = None
) -> StructuredCase:
    """A DDXPlus patient as the model of the answers reads it (``answers``: a subset of the
    patient's own, as after a short interview)."""
    case = StructuredCase.from_patient(patient)
    return case if answers is None else replace(case, answers=answers)


def _patient(dataset: Dataset, row: int) -> ddxplus.Patient:
    patient = dataset.patient_of(row)
    assert patient is not None, f"row {row} is not a structured case"
    return patient


def structured_differential_metrics(
    model: StructuredDifferential,
    cases: Sequence[StructuredCase],
    top_ids: NDArray[np.int64],
    targets: NDArray[np.int64],
    truths: Sequence[set[int]],
) -> dict[str, Any]:
    """DDR/DDP/DDF1 of the product's differential for structured cases: the conditions the
    model of the answers keeps, with the classifier's first choice (``top_ids``)."""
    membership = model.membership(cases)
    scores = np.zeros((len(cases), len(LABELS)))
    for column, name in enumerate(model.conditions):
        key = canonical_key(name)
        if key is not None and key in LABEL2ID:
            scores[:, LABEL2ID[key]] = np.maximum(scores[:, LABEL2ID[key]], membership[:, column])
    scores[np.arange(len(cases)), top_ids] = 1.0
    result = differential_metrics(scores, targets, list(truths), model.threshold).to_dict()
    # GTPA is the classifier's (its first choice leads); the rest is the differential's.
    return {key: result[key] for key in ("n", "ddr", "ddp", "ddf1", "mean_differential_size")}


def structured_differential_report(
    model: StructuredDifferential,
    dataset: Dataset,
    rows: Sequence[int],
    *,
    top_ids: NDArray[np.int64],
    targets: NDArray[np.int64],
    truths: Sequence[set[int]],
    interviews: dict[int, ddxplus.Answers] | None = None,
    interview_top_ids: NDArray[np.int64] | None = None,
) -> dict[str, Any]:
    """The structured differential on ``rows`` of ``dataset`` (structured cases; ``top_ids``,
    ``targets`` and ``truths`` aligned with ``rows``): ``full_answers``, and with ``interviews``
    (short interviews of those rows, ``short_interviews``) and the classifier's first choices
    on their rendered texts (``interview_top_ids``, aligned with ``sorted(interviews)``) also
    ``partial_answers``."""
    report = {
        "full_answers": structured_differential_metrics(
            model,
            [structured_case(_patient(dataset, row)) for row in rows],
            top_ids,
            targets,
            truths,
        )
    }
    if interviews and interview_top_ids is not None:
        position = {row: index for index, row in enumerate(rows)}
        # A structured row without a ground-truth differential is not scored.
        kept = [i for i, row in enumerate(sorted(interviews)) if row in position]
        interviewed = [sorted(interviews)[i] for i in kept]
        report["partial_answers"] = structured_differential_metrics(
            model,
            [structured_case(_patient(dataset, row), interviews[row]) for row in interviewed],
            interview_top_ids[kept],
            targets[[position[row] for row in interviewed]],
            [truths[position[row]] for row in interviewed],
        )
    return report
