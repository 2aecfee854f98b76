"""The interview's questionnaire and evidence model from DDXPlus (``medconsult.ml.ddxplus``
reads the files; this module only maps its types to the engine's)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import medconsult.ml.ddxplus as ddxplus
from medconsult.interview.engine import NO, YES, Answer, EvidenceModel, Question, fit


def question(evidence: ddxplus.Evidence) -> Question:
    """The engine's form of one DDXPlus evidence."""
    parent = evidence.parent
    if evidence.kind == "binary":
        return Question(evidence.name, "binary", (NO, YES), NO, parent)
    if evidence.kind == "scale":
        low, high = evidence.scale or (0, 10)
        values = tuple(str(v) for v in range(low, high + 1))
        return Question(evidence.name, "scale", values, str(evidence.default or low), parent)
    codes = tuple(value.code for value in evidence.values)
    default = str(evidence.default) if str(evidence.default) in codes else codes[0]
    if evidence.kind == "multiple":
        return Question(evidence.name, "multiple", codes, default, parent)
    return Question(evidence.name, "single", codes, default, parent)


def questions(questionnaire: ddxplus.Questionnaire) -> tuple[Question, ...]:
    """Every question, in the questionnaire's order; a follow-up of a question the
    questionnaire lacks is asked on its own."""
    found = []
    for evidence in questionnaire.evidences.values():
        item = question(evidence)
        if item.parent is not None and item.parent not in questionnaire:
            item = Question(item.code, item.kind, item.values, item.default, None)
        found.append(item)
    return tuple(found)


def engine_evidences(answers: ddxplus.Answers) -> dict[str, tuple[str, ...]]:
    """A DDXPlus patient's answers in the engine's form (code -> values present)."""
    result: dict[str, tuple[str, ...]] = {}
    for code, value in answers.items():
        if isinstance(value, bool):
            if value:
                result[code] = (YES,)
        elif isinstance(value, list):
            result[code] = tuple(value)
        else:
            result[code] = (str(value),)
    return result


def ddxplus_answers(
    answers: Sequence[Answer], questionnaire: ddxplus.Questionnaire
) -> ddxplus.Answers:
    """Interview answers as DDXPlus answers ("don't know" left out)."""
    result: ddxplus.Answers = {}
    for answer in answers:
        if answer.unknown or answer.code not in questionnaire:
            continue
        evidence = questionnaire[answer.code]
        if evidence.kind == "binary":
            result[answer.code] = answer.is_yes
        elif evidence.kind == "scale" and answer.values:
            result[answer.code] = int(answer.values[0])
        elif evidence.kind == "categorical" and answer.values:
            result[answer.code] = answer.values[0]
        elif evidence.kind == "multiple":
            result[answer.code] = list(answer.values)
    return result


def typical_evidences(patients: Iterable[ddxplus.Patient]) -> dict[str, set[str]]:
    """The evidences seen with each condition in the training rows (what smoothing leans on
    where a condition has few patients)."""
    typical: dict[str, set[str]] = {}
    for patient in patients:
        typical.setdefault(patient.pathology, set()).update(patient.evidences)
    return typical


def fit_model(
    questionnaire: ddxplus.Questionnaire,
    patients: Sequence[ddxplus.Patient],
    conditions: Sequence[str],
) -> EvidenceModel:
    """The evidence model fitted on ``patients``."""
    return fit(
        questions(questionnaire),
        [(p.pathology, engine_evidences(p.evidences)) for p in patients],
        conditions=conditions,
        typical=typical_evidences(patients),
        openers={p.initial_evidence for p in patients if p.initial_evidence},
    )


def model(folder: Path) -> EvidenceModel:
    """The evidence model fitted on every patient of ``folder``."""
    conditions = sorted(ddxplus.load_conditions(folder))
    return fit_model(ddxplus.load_questionnaire(folder), ddxplus.load_patients(folder), conditions)


def texts(
    folder: Path,
) -> tuple[dict[str, Question], dict[str, str], dict[str, dict[str, str]], tuple[str, ...]]:
    """The questions (engine form), their English texts, their values' English meanings and
    the conditions' names."""
    questionnaire = ddxplus.load_questionnaire(folder)
    return (
        {q.code: q for q in questions(questionnaire)},
        {name: e.question_en for name, e in questionnaire.evidences.items()},
        {
            name: {value.code: value.en for value in e.values}
            for name, e in questionnaire.evidences.items()
        },
        tuple(sorted(ddxplus.load_conditions(folder))),
    )


def render(folder: Path, answers: Sequence[Answer]) -> str:
    """Interview answers as English text, by the DDXPlus renderer."""
    questionnaire = ddxplus.load_questionnaire(folder)
    text: str = ddxplus.render(ddxplus_answers(answers, questionnaire), questionnaire)
    return text
