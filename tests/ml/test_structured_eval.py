"""Scoring the structured differential: the short interviews, the product's differential (the
model's members with the classifier's first choice) and the report's alignment of rows."""

from __future__ import annotations

import numpy as np
import pytest

from medconsult.ml import ddxplus, structured
from medconsult.ml.data import LABEL2ID, Dataset, Example, dataset_from_examples
from medconsult.ml.labels import canonical_key
from medconsult.ml.structured import StructuredCase, StructuredDifferential
from medconsult.ml.structured_eval import (
    rendered,
    short_interviews,
    structured_case,
    structured_differential_metrics,
    structured_differential_report,
)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """Twenty real DDXPlus patients with two free-text rows among them."""
    patients = ddxplus.load_patients(limit=20)
    questionnaire = ddxplus.load_questionnaire()
    examples = [
        Example(
            text=ddxplus.render_patient(patient, questionnaire),
            raw_label=patient.pathology,
            source="ddxplus",
            evidences=patient.evidences,
            differential=patient.differential,
            patient=patient,
        )
        for patient in patients
    ]
    examples.insert(3, Example("I sneeze and my nose runs", "Common Cold", "s2d"))
    examples.insert(11, Example("My joints ache in the morning", "Arthritis", "s2d"))
    return dataset_from_examples(examples)


@pytest.fixture(scope="module")
def model(dataset: Dataset) -> StructuredDifferential:
    patients = [p for p in (dataset.patient_of(r) for r in range(len(dataset))) if p]
    return structured.fit(
        [StructuredCase.from_patient(p) for p in patients],
        [{name for name, _ in p.differential} for p in patients],
        conditions=sorted(ddxplus.load_conditions()),
        max_iter=5,
    )


def _truth(dataset: Dataset, row: int) -> set[int]:
    differential = dataset.differential_of(row)
    assert differential
    return {LABEL2ID[key] for key, _ in differential}


def test_short_interviews_are_repeatable_subsets_that_keep_the_chief_complaint(
    dataset: Dataset,
) -> None:
    interviews = short_interviews(dataset, 42)
    assert interviews == short_interviews(dataset, 42)
    assert interviews != short_interviews(dataset, 43)
    structured_rows = [r for r in range(len(dataset)) if dataset.patient_of(r) is not None]
    assert sorted(interviews) == structured_rows  # free-text rows get none
    for row, answers in interviews.items():
        patient = dataset.patient_of(row)
        assert patient is not None
        assert patient.initial_evidence in answers
        assert set(answers) <= set(patient.evidences)
    assert any(
        len(answers) < len(dataset.patient_of(r).evidences) for r, answers in interviews.items()
    )  # type: ignore[union-attr]
    texts = rendered(dataset, interviews)
    assert sorted(texts) == structured_rows
    assert all(text.startswith("Age ") for text in texts.values())


def test_the_differential_is_the_members_with_the_first_choice(
    dataset: Dataset, model: StructuredDifferential
) -> None:
    rows = [r for r in range(len(dataset)) if dataset.patient_of(r) is not None]
    cases = [structured_case(dataset.patient_of(r)) for r in rows]  # type: ignore[arg-type]
    truths = [_truth(dataset, r) for r in rows]
    targets = np.array([LABEL2ID[str(dataset.labels[r])] for r in rows], dtype=np.int64)
    # A first choice that no model would keep: the metrics must count it in every differential.
    top_ids = np.full(len(rows), LABEL2ID["common_cold"], dtype=np.int64)
    result = structured_differential_metrics(model, cases, top_ids, targets, truths)

    membership = model.membership(cases)
    recalls, precisions, sizes = [], [], []
    for index, truth in enumerate(truths):
        chosen = {
            LABEL2ID[key]
            for column, name in enumerate(model.conditions)
            if membership[index, column] >= model.threshold
            and (key := canonical_key(name)) is not None
            and key in LABEL2ID
        } | {LABEL2ID["common_cold"]}
        recalls.append(len(chosen & truth) / len(truth))
        precisions.append(len(chosen & truth) / len(chosen))
        sizes.append(len(chosen))
    assert result["n"] == len(rows)
    assert result["ddr"] == pytest.approx(np.mean(recalls))
    assert result["ddp"] == pytest.approx(np.mean(precisions))
    assert result["mean_differential_size"] == pytest.approx(np.mean(sizes))
    assert set(result) == {"n", "ddr", "ddp", "ddf1", "mean_differential_size"}


def test_the_report_scores_only_rows_with_a_truth_and_keeps_interviews_aligned(
    dataset: Dataset, model: StructuredDifferential
) -> None:
    structured_rows = [r for r in range(len(dataset)) if dataset.patient_of(r) is not None]
    scored = structured_rows[2:]  # the first two have no truth here: left out of the scores
    interviews = short_interviews(dataset, 42)
    interview_top = np.array(
        [LABEL2ID[str(dataset.labels[r])] for r in sorted(interviews)], dtype=np.int64
    )
    targets = np.array([LABEL2ID[str(dataset.labels[r])] for r in scored], dtype=np.int64)
    truths = [_truth(dataset, r) for r in scored]
    report = structured_differential_report(
        model,
        dataset,
        scored,
        top_ids=targets,
        targets=targets,
        truths=truths,
        interviews=interviews,
        interview_top_ids=interview_top,
    )
    assert report["full_answers"]["n"] == len(scored)
    assert report["partial_answers"]["n"] == len(scored)
    expected = structured_differential_metrics(
        model,
        [structured_case(dataset.patient_of(r), interviews[r]) for r in scored],  # type: ignore[arg-type]
        targets,
        targets,
        truths,
    )
    assert report["partial_answers"] == expected
    without = structured_differential_report(
        model, dataset, scored, top_ids=targets, targets=targets, truths=truths
    )
    assert set(without) == {"full_answers"}
    assert without["full_answers"] == report["full_answers"]
