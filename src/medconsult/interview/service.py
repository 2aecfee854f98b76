"""The intake interview: start, answer, finish and read it. Only the consultation's patient
answers; doctors read. Every call is checked and audited (never with the answers' content)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult import access
from medconsult.accounts.models import Role, User
from medconsult.audit import service as audit_service
from medconsult.config import Settings, get_settings
from medconsult.consultations.models import Consultation, ConsultationStatus
from medconsult.db import utcnow
from medconsult.diagnosis import service as diagnosis_service
from medconsult.errors import (
    Conflict,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from medconsult.i18n import _
from medconsult.interview import complaints, questionnaire
from medconsult.interview.engine import Answer, Decision, EvidenceModel, FloatArray
from medconsult.interview.models import Interview, InterviewStatus
from medconsult.interview.schemas import AnswerCreate
from medconsult.jobs import queue
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.ml import labels as ml_labels
from medconsult.ml.structured import StructuredCase
from medconsult.patients.models import PatientProfile, Sex
from medconsult.patients.service import age_on

log = logging.getLogger(__name__)

CLOSED_STATUSES = frozenset({ConsultationStatus.concluded, ConsultationStatus.closed})
# How much of the starting posterior the classifier's differential carries when it names any
# of the interview's conditions; the rest is the data's base rates, so that a condition the
# classifier missed can still rise.
CLASSIFIER_PRIOR_WEIGHT = 0.8
DIFFERENTIAL_SIZE = 5


@dataclass(frozen=True)
class InterviewState:
    """An interview as pages and the API show it."""

    consultation: Consultation
    interview: Interview | None
    question: questionnaire.QuestionView | None
    answers: tuple[questionnaire.AnswerView, ...]
    # The interview model's leading candidates (doctors only): (condition text, probability).
    differential: tuple[tuple[str, float], ...]
    may_answer: bool

    @property
    def asked(self) -> int:
        return len(self.answers)


# --- access ----------------------------------------------------------------------------------


def _owner(
    session: Session, *, actor: User, consultation_id: uuid.UUID, action: str
) -> Consultation:
    """The consultation if the actor is its patient: only they answer. Doctors get 403."""
    consultation = access.readable_consultation(
        session, actor=actor, consultation_id=consultation_id, action=action
    )
    access.require_case_role(
        session, actor=actor, role=Role.patient, action=action, consultation=consultation
    )
    return consultation


def _load(session: Session, consultation_id: uuid.UUID, *, lock: bool = False) -> Interview | None:
    query = select(Interview).where(Interview.consultation_id == consultation_id)
    return session.scalar(query.with_for_update() if lock else query)


def _started(
    session: Session, *, actor: User, consultation_id: uuid.UUID, action: str
) -> tuple[Consultation, Interview]:
    """``_owner``'s consultation and its started interview, locked for a change; else 404."""
    consultation = _owner(session, actor=actor, consultation_id=consultation_id, action=action)
    interview = _load(session, consultation.id, lock=True)
    if interview is None:
        raise NotFound(_("These questions have not been started."))
    return consultation, interview


def _audit(
    session: Session,
    *,
    actor: User | None,
    action: str,
    consultation: Consultation,
    part: tuple[str, uuid.UUID] | None = None,
    **details: object,
) -> None:
    audit_service.record_consultation(
        session, actor, action, consultation, part=part, details=dict(details) or None
    )


# --- the engine ------------------------------------------------------------------------------


def _answers(interview: Interview) -> list[Answer]:
    return [Answer.from_dict(item) for item in interview.answers]


def starting_prior(
    session: Session, *, consultation: Consultation, model: EvidenceModel
) -> tuple[dict[str, float], str]:
    """The posterior the interview starts from, and its source: the classifier's differential
    on the free text where it names any of the interview's conditions (mixed with the base
    rates), else the base rates of the training data."""
    base = model.class_prior
    suggestion = diagnosis_service.current_suggestion(session, consultation_id=consultation.id)
    scores = {
        str(row.get("label")): float(row.get("probability") or 0.0)
        for row in (suggestion.ranked if suggestion is not None else [])
    }
    mapped = np.array(
        [scores.get(ml_labels.canonical_key(name) or "", 0.0) for name in model.conditions]
    )
    if mapped.sum() > 0:
        prior = (
            CLASSIFIER_PRIOR_WEIGHT * mapped / mapped.sum() + (1 - CLASSIFIER_PRIOR_WEIGHT) * base
        )
        source = "classifier"
    else:
        prior, source = base, "base_rates"
    return {name: float(p) for name, p in zip(model.conditions, prior, strict=True)}, source


def _prior_array(interview: Interview, model: EvidenceModel) -> FloatArray:
    values = np.array([float(interview.prior.get(name, 0.0)) for name in model.conditions])
    if values.sum() <= 0:
        return model.class_prior
    normalised: FloatArray = values / values.sum()
    return normalised


def _decide(
    interview: Interview, model: EvidenceModel, settings: Settings, consultation: Consultation
) -> Decision:
    return model.decide(
        _prior_array(interview, model),
        _answers(interview),
        max_questions=interview.max_questions,
        stop_probability=settings.interview_stop_probability,
        min_gain_bits=settings.interview_min_gain_bits,
        top_k=settings.interview_candidates,
        openers_first=interview.prior_source != "classifier",
        named=_named_openers(consultation) if not interview.answers else (),
    )


def _named_openers(consultation: Consultation) -> frozenset[str]:
    """The opening questions the patient's own words name (read for the first question only)."""
    return complaints.named_openers(f"{consultation.chief_complaint}\n{consultation.history}")


def _advance(
    session: Session, *, interview: Interview, consultation: Consultation, settings: Settings
) -> None:
    """Set the next question, or finish the interview if the engine says to stop."""
    model = questionnaire.model()
    decision = _decide(interview, model, settings, consultation)
    if decision.question is not None:
        interview.pending_question = decision.question.code
        return
    _finish(
        session,
        interview=interview,
        consultation=consultation,
        reason=decision.stop_reason or "exhausted",
        posterior=decision.posterior,
        model=model,
    )


def _finish(
    session: Session,
    *,
    interview: Interview,
    consultation: Consultation,
    reason: str,
    posterior: FloatArray | None,
    model: EvidenceModel,
) -> None:
    if posterior is None:
        posterior = model.posterior(_prior_array(interview, model), _answers(interview))
    interview.status = InterviewStatus.finished
    interview.pending_question = None
    interview.stop_reason = reason
    interview.finished_at = utcnow()
    interview.differential = [
        {"condition": name, "probability": round(p, 4)}
        for name, p in model.ranked(posterior, DIFFERENTIAL_SIZE)
    ]
    session.flush()
    if interview.answers:
        # The answers are part of what the classifier reads: analyse the case again.
        queue_reanalysis(session, consultation=consultation)


def queue_reanalysis(session: Session, *, consultation: Consultation) -> bool:
    """Queue a fresh analysis of one consultation whose input has grown (its intake answers)
    while no doctor has claimed it (caller commits), audited; False when none is queued.

    An analysis still waiting in the queue reads the answers itself when it runs. One that is
    running has already read its text: once stored, it queues itself again for the answers it
    did not read (``jobs.analysis.requeue_for_new_answers``).
    """
    if (
        not consultation.ai_consent
        or consultation.doctor_id is not None
        or consultation.status in CLOSED_STATUSES
    ):
        return False
    job = session.scalar(
        select(AnalysisJob).where(AnalysisJob.consultation_id == consultation.id).with_for_update()
    )
    if job is None:
        job = AnalysisJob(consultation_id=consultation.id, status=JobStatus.queued, attempts=0)
        session.add(job)
        session.flush()
    elif job.status is JobStatus.queued:
        return True
    elif job.status is JobStatus.running:
        log.info("analysis of %s is running; it queues itself again when stored", consultation.id)
        return False
    queue.requeue_analysis(session, job=job)
    session.flush()
    _audit(
        session,
        actor=None,
        action="consultation.reanalysis.queued",
        consultation=consultation,
        part=("analysis_job", job.id),
        reason="intake_answers",
    )
    return True


# --- reading ---------------------------------------------------------------------------------


def state(session: Session, *, actor: User, consultation_id: uuid.UUID) -> InterviewState:
    """The interview of a consultation (none yet: ``interview`` is None), for its patient or a
    doctor (checked and audited)."""
    consultation = access.readable_consultation(
        session, actor=actor, consultation_id=consultation_id, action="interview.read"
    )
    view = _state(consultation, _load(session, consultation.id), actor=actor)
    _audit(session, actor=actor, action="interview.read", consultation=consultation)
    return view


def state_if_available(
    session: Session, *, actor: User, consultation_id: uuid.UUID
) -> InterviewState | None:
    """``state``, or None when the questionnaire cannot be read (the consultation pages
    still show everything else)."""
    try:
        return state(session, actor=actor, consultation_id=consultation_id)
    except ServiceUnavailable:
        return None


def _state(
    consultation: Consultation, interview: Interview | None, *, actor: User
) -> InterviewState:
    texts = questionnaire.texts()
    question = None
    if interview is not None and interview.pending_question:
        pending = texts.questions.get(interview.pending_question)
        question = questionnaire.question_view(texts, pending) if pending else None
    answers = tuple(
        questionnaire.answer_view(texts, answer)
        for answer in (_answers(interview) if interview is not None else [])
    )
    differential: tuple[tuple[str, float], ...] = ()
    if interview is not None and actor.role is Role.doctor:
        differential = tuple(
            (texts.condition_text(str(row["condition"])), float(row["probability"]))
            for row in interview.differential
        )
    return InterviewState(
        consultation=consultation,
        interview=interview,
        question=question,
        answers=answers,
        differential=differential,
        may_answer=(
            actor.role is Role.patient
            and consultation.status not in CLOSED_STATUSES
            and (interview is None or interview.status is InterviewStatus.in_progress)
        ),
    )


def answers_for(session: Session, *, consultation_id: uuid.UUID) -> list[Answer]:
    """The stored answers of a consultation's interview (for the analysis; no access check:
    the worker is not a user)."""
    interview = _load(session, consultation_id)
    return _answers(interview) if interview is not None else []


# DDXPlus records sex as "M" / "F"; "other" and "unknown" are unknown to its model.
_DDXPLUS_SEX = {Sex.female: "F", Sex.male: "M"}


def structured_case(
    session: Session, *, consultation: Consultation, answers: Sequence[Answer]
) -> StructuredCase:
    """The interview's answers as a structured case for the analysis, with the patient's age
    and sex from their profile where given (no access check: the worker is not a user)."""
    profile = session.scalar(
        select(PatientProfile).where(PatientProfile.user_id == consultation.patient_id)
    )
    return StructuredCase(
        answers=questionnaire.structured_answers(answers),
        age=age_on(profile.date_of_birth) if profile is not None else None,
        sex=_DDXPLUS_SEX.get(profile.sex) if profile is not None else None,
    )


def answer_views_for(
    session: Session, *, consultation_id: uuid.UUID
) -> tuple[questionnaire.AnswerView, ...]:
    """The interview's answers in words, in the reader's language, for records and reports (no
    access check: callers check it). Empty without answers or without the questionnaire data:
    an export never fails for want of it."""
    answers = answers_for(session, consultation_id=consultation_id)
    if not answers:
        return ()
    try:
        texts = questionnaire.texts()
    except ServiceUnavailable:
        log.warning("interview questionnaire unavailable: answers left out of the record")
        return ()
    return tuple(questionnaire.answer_view(texts, answer) for answer in answers)


# --- writing ---------------------------------------------------------------------------------


def _begin(session: Session, *, consultation: Consultation, settings: Settings) -> Interview:
    """A new interview from the starting prior, its first question chosen."""
    model = questionnaire.model()
    prior, source = starting_prior(session, consultation=consultation, model=model)
    interview = Interview(
        consultation_id=consultation.id,
        status=InterviewStatus.in_progress,
        answers=[],
        prior=prior,
        prior_source=source,
        max_questions=settings.interview_max_questions,
        differential=[],
    )
    session.add(interview)
    session.flush()
    _advance(session, interview=interview, consultation=consultation, settings=settings)
    return interview


def start(
    session: Session,
    *,
    actor: User,
    consultation_id: uuid.UUID,
    settings: Settings | None = None,
) -> InterviewState:
    """Start the interview (or return the one already started): the first question."""
    settings = settings or get_settings()
    consultation = _owner(
        session, actor=actor, consultation_id=consultation_id, action="interview.start"
    )
    interview = _load(session, consultation.id, lock=True)
    if interview is None:
        if consultation.status in CLOSED_STATUSES:
            raise Conflict(_("This consultation is concluded; its questions are closed."))
        interview = _begin(session, consultation=consultation, settings=settings)
        _audit(
            session,
            actor=actor,
            action="interview.start",
            consultation=consultation,
            prior_source=interview.prior_source,
        )
    return _state(consultation, interview, actor=actor)


def _checked_answer(data: AnswerCreate, question_code: str) -> Answer:
    """The answer to the pending question, or 422 naming what is wrong."""
    texts = questionnaire.texts()
    question = texts.questions[question_code]
    if data.unknown:
        return Answer(question.code, (), unknown=True)
    values = tuple(dict.fromkeys(data.values))
    allowed = set(question.values)
    if question.kind == "multiple":
        allowed.discard(question.default)
    if any(v not in allowed for v in values):
        raise ValidationFailed({"values": _("Please choose one of the answers offered.")})
    if question.kind != "multiple" and len(values) != 1:
        raise ValidationFailed({"values": _('Please choose one answer, or "Don\'t know".')})
    return Answer(question.code, values)


def answer(
    session: Session,
    *,
    actor: User,
    consultation_id: uuid.UUID,
    data: AnswerCreate,
    settings: Settings | None = None,
) -> InterviewState:
    """Record the answer to the question on screen and choose the next one (or finish)."""
    settings = settings or get_settings()
    consultation, interview = _started(
        session, actor=actor, consultation_id=consultation_id, action="interview.answer"
    )
    if interview.status is InterviewStatus.finished or not interview.pending_question:
        raise Conflict(_("These questions are finished; your answers are saved."))
    if data.question != interview.pending_question:
        raise Conflict(
            _("That question was already answered. Please answer the question now shown.")
        )
    checked = _checked_answer(data, interview.pending_question)
    interview.answers = [*interview.answers, checked.to_dict()]
    interview.pending_question = None
    _advance(session, interview=interview, consultation=consultation, settings=settings)
    _audit(
        session,
        actor=actor,
        action="interview.answer",
        consultation=consultation,
        question=checked.code,
        finished=interview.pending_question is None,
    )
    return _state(consultation, interview, actor=actor)


def finish(session: Session, *, actor: User, consultation_id: uuid.UUID) -> InterviewState:
    """The patient ends the interview now; the answers given so far are kept."""
    consultation, interview = _started(
        session, actor=actor, consultation_id=consultation_id, action="interview.finish"
    )
    if interview.status is InterviewStatus.in_progress:
        _finish(
            session,
            interview=interview,
            consultation=consultation,
            reason="patient",
            posterior=None,
            model=questionnaire.model(),
        )
        _audit(session, actor=actor, action="interview.finish", consultation=consultation)
    return _state(consultation, interview, actor=actor)
