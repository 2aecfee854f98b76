"""Simulated interviews on held-out DDXPlus patients: how many questions the interview asks
and how often its top condition is right (GTPA@1), beside the same evidence model given every
answer of the patient ("full evidence").

Protocol (as in the DDXPlus paper): each patient opens with their initial evidence (the chief
complaint, answered yes) and then answers every question the engine asks from their recorded
evidences; a question they have no evidence for is answered with its default (no / none /
0). The model is fitted on a fixed stratified training split of the same file and scored on
the rest, so no scored patient was seen in fitting.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from medconsult.config import Settings, get_settings
from medconsult.interview.engine import NO, YES, Answer, EvidenceModel, Question
from medconsult.ml.data import stratified_split

VAL_FRACTION = 0.2  # held-out share per condition
SEED = 42  # the split's seed (the same split as the classifier's default)


def oracle_answer(question: Question, evidences: Mapping[str, Sequence[str]]) -> Answer:
    """What a patient with these evidences answers to ``question``."""
    if question.kind == "binary":
        return Answer(question.code, (YES if question.code in evidences else NO,))
    given = tuple(evidences.get(question.code, ()))
    if question.kind == "multiple":
        return Answer(question.code, tuple(v for v in given if v != question.default))
    return Answer(question.code, given[:1] or (question.default,))


@dataclass(frozen=True)
class Simulation:
    answers: tuple[Answer, ...]
    asked: int  # questions the engine chose (the opening complaint is not counted)
    top: str
    stop_reason: str


def simulate(
    model: EvidenceModel,
    evidences: Mapping[str, Sequence[str]],
    initial: str,
    *,
    max_questions: int,
    stop_probability: float,
    min_gain_bits: float,
    top_k: int,
) -> Simulation:
    """One interview of a patient, answering from their evidences."""
    answers: list[Answer] = []
    if initial in model.by_code:
        answers.append(Answer(initial, (YES,)))
    opened = len(answers)
    while True:
        decision = model.decide(
            model.class_prior,
            answers,
            max_questions=max_questions,
            stop_probability=stop_probability,
            min_gain_bits=min_gain_bits,
            top_k=top_k,
            openers_first=True,
            asked=len(answers) - opened,
        )
        if decision.question is None:
            break
        answers.append(oracle_answer(decision.question, evidences))
    top = model.conditions[int(decision.posterior.argmax())]
    return Simulation(tuple(answers), len(answers) - opened, top, decision.stop_reason or "")


def full_evidence_top(model: EvidenceModel, evidences: Mapping[str, Sequence[str]]) -> str:
    """The model's top condition given every answer the patient would give."""
    answers = [
        oracle_answer(q, evidences)
        for q in model.questions
        if q.parent is None or q.parent not in model.by_code or q.parent in evidences
    ]
    return model.conditions[int(model.posterior(model.class_prior, answers).argmax())]


@dataclass(frozen=True)
class Report:
    data: str
    patients_fitted: int
    patients_scored: int
    max_questions: int
    stop_probability: float
    min_gain_bits: float
    mean_questions: float
    median_questions: float
    gtpa1_interview: float
    gtpa1_full_evidence: float
    stop_reasons: dict[str, int]
    mean_choice_ms: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def to_text(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.stop_reasons.items()))
        return "\n".join(
            [
                f"Interview simulation on {self.data}: fitted on {self.patients_fitted} patients, "
                f"scored on {self.patients_scored} held-out patients",
                f"  settings: at most {self.max_questions} questions, stop at top posterior "
                f">= {self.stop_probability} or expected gain < {self.min_gain_bits} bits",
                f"  questions asked: mean {self.mean_questions:.2f}, "
                f"median {self.median_questions:.1f} (after the opening complaint)",
                f"  GTPA@1 interview:      {self.gtpa1_interview:.4f}",
                f"  GTPA@1 full evidence:  {self.gtpa1_full_evidence:.4f}",
                f"  stop reasons: {reasons}",
                f"  mean time per question choice: {self.mean_choice_ms:.2f} ms",
            ]
        )


def evaluate(
    data: Path,
    *,
    settings: Settings | None = None,
    max_questions: int | None = None,
    limit: int | None = None,
) -> Report:
    """Fit on the training split of ``data`` (a DDXPlus folder or its patients.csv) and
    simulate interviews on the held-out split."""
    from medconsult.interview import ddxplus_source
    from medconsult.ml import ddxplus

    settings = settings or get_settings()
    folder = data if data.is_dir() else data.parent
    patients = ddxplus.load_patients(data)
    train, held_out = stratified_split([p.pathology for p in patients], VAL_FRACTION, SEED)
    if limit is not None:
        held_out = held_out[:limit]
    model = ddxplus_source.fit_model(
        ddxplus.load_questionnaire(folder),
        [patients[i] for i in train],
        sorted(ddxplus.load_conditions(folder)),
    )
    budget = max_questions if max_questions is not None else settings.interview_max_questions
    asked: list[int] = []
    right = right_full = 0
    reasons: dict[str, int] = {}
    started = time.perf_counter()
    choices = 0
    for index in held_out:
        patient = patients[index]
        evidences = ddxplus_source.engine_evidences(patient.evidences)
        result = simulate(
            model,
            evidences,
            patient.initial_evidence,
            max_questions=budget,
            stop_probability=settings.interview_stop_probability,
            min_gain_bits=settings.interview_min_gain_bits,
            top_k=settings.interview_candidates,
        )
        choices += result.asked + 1
        asked.append(result.asked)
        reasons[result.stop_reason] = reasons.get(result.stop_reason, 0) + 1
        right += result.top == patient.pathology
    elapsed = time.perf_counter() - started
    for index in held_out:
        patient = patients[index]
        evidences = ddxplus_source.engine_evidences(patient.evidences)
        right_full += full_evidence_top(model, evidences) == patient.pathology
    n = len(held_out)
    return Report(
        data=str(data),
        patients_fitted=len(train),
        patients_scored=n,
        max_questions=budget,
        stop_probability=settings.interview_stop_probability,
        min_gain_bits=settings.interview_min_gain_bits,
        mean_questions=round(statistics.fmean(asked), 3) if asked else 0.0,
        median_questions=float(statistics.median(asked)) if asked else 0.0,
        gtpa1_interview=round(right / n, 4) if n else 0.0,
        gtpa1_full_evidence=round(right_full / n, 4) if n else 0.0,
        stop_reasons=reasons,
        mean_choice_ms=round(1000 * elapsed / max(choices, 1), 3),
    )
