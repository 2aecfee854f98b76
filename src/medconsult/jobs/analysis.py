"""One analysis of one consultation, in three short transactions: claim, infer, store.

Torch-free: the model comes from a ``ModelProvider`` (the worker's cache of loaded classifiers,
or a fake in unit tests). Inference runs outside any transaction so no row lock is held while
the model thinks.

Lease and retries: the job engine (procrastinate) owns delivery. A worker heartbeats; when it
dies mid-analysis its job stays ``doing`` until another worker's recovery sweep sees the stale
heartbeat and puts the job back (``jobs.worker.recover_stalled_jobs``). ``analysis_jobs.attempts``
counts claims, so a job that keeps killing its worker is also marked failed after
``settings.job_max_attempts``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from medconsult.accounts.models import User
from medconsult.audit import service as audit_service
from medconsult.audit.models import Outcome
from medconsult.config import Settings
from medconsult.consultations.models import Consultation, ConsultationStatus
from medconsult.db import utcnow
from medconsult.diagnosis import service as diagnosis_service
from medconsult.jobs import queue
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.metrics import SUBMIT_TO_SUGGESTION_SECONDS
from medconsult.ml import language
from medconsult.ml.errors import InputTextError
from medconsult.ml.structured import StructuredCase
from medconsult.ml.types import Suggestion
from medconsult.triage import service as triage_service
from medconsult.triage.rules import Flag

log = logging.getLogger(__name__)

# Test-only (Settings.test_analysis_hold_seconds): seconds to sleep right after claiming a job,
# so a test can kill a worker while it holds one. Used only when MEDCONSULT_ENV=testing.
HOLD_ENV = "MEDCONSULT_TEST_ANALYSIS_HOLD_SECONDS"
FINAL_CONSULTATION_STATUSES = frozenset({ConsultationStatus.concluded, ConsultationStatus.closed})
PENDING_CONSULTATION_STATUSES = frozenset(
    {ConsultationStatus.submitted, ConsultationStatus.analysing}
)


class SuggestionSource(Protocol):
    def suggest(self, text: str, case: StructuredCase | None = None) -> Suggestion: ...


class ModelProvider(Protocol):
    def resolve(self, session: Session) -> Path | None:
        """The model directory to use now, or None if no model is available."""

    def use(self, model_dir: Path) -> AbstractContextManager[SuggestionSource]:
        """The loaded model for ``model_dir`` while the caller runs one analysis."""


class RetryLater(Exception):
    """A transient failure: the job engine runs the job again later."""


@dataclass(frozen=True)
class Claim:
    model_dir: Path
    text: str
    attempt: int
    triage_text: str = ""
    intake_text: str = ""  # the interview's answers rendered in English ("" without any)
    intake_case: StructuredCase | None = None  # the same answers, structured (None without any)


def _no_flags() -> list[Flag]:
    return []


def start_semantic_flags(text: str, settings: Settings) -> Callable[[], list[Flag]]:
    """Queue the semantic red-flag layer on ``text`` and return the call that waits for its
    flags, so the classifier runs meanwhile ([] when the layer is off or cannot run: the rules
    have already flagged what they can at store time, so a failure here must not fail the
    analysis)."""
    if not settings.triage_semantic or not text:
        return _no_flags
    try:
        from medconsult.triage import semantic

        layer = semantic.shared()
        pending = layer.submit(text)
    except Exception as exc:
        log.warning("semantic triage unavailable: %s", exc)
        return _no_flags

    def flags() -> list[Flag]:
        try:
            return layer.flags_of(pending.result())
        except Exception as exc:
            log.warning("semantic triage unavailable: %s", exc)
            return []

    return flags


def unreadable_text_suggestion(*, model_version: str) -> Suggestion:
    """The stored result for a text the model cannot read: no ranking, abstained with the reason
    ``unsupported_language``; urgency stays routine unless the red-flag rules raised it."""
    return Suggestion(
        ranked=(),
        urgency="routine",
        abstained=True,
        evidence=(),
        red_flags=(),
        windowed=False,
        n_windows=0,
        model_version=model_version,
        abstain_reasons=(language.UNSUPPORTED_LANGUAGE,),
    )


def hold_seconds(settings: Settings) -> float:
    if settings.env != "testing":
        return 0.0
    return max(0.0, settings.test_analysis_hold_seconds)


def _lock(
    session: Session, consultation_id: uuid.UUID
) -> tuple[Consultation | None, AnalysisJob | None]:
    # Consultation first, then its job: every writer takes them in this order.
    consultation = session.scalar(
        select(Consultation)
        .where(Consultation.id == consultation_id)
        .options(selectinload(Consultation.reports))
        .with_for_update(of=Consultation)
    )
    job = session.scalar(
        select(AnalysisJob).where(AnalysisJob.consultation_id == consultation_id).with_for_update()
    )
    return consultation, job


def _release_to_doctors(consultation: Consultation) -> None:
    """Without an AI result the doctor reviews manually: the consultation joins the queue."""
    if consultation.status in PENDING_CONSULTATION_STATUSES:
        consultation.status = ConsultationStatus.awaiting_review


def _mark_failed(
    session: Session, consultation: Consultation, job: AnalysisJob, error: str
) -> None:
    job.status = JobStatus.failed
    job.last_error = error[:1000]
    job.finished_at = utcnow()
    _release_to_doctors(consultation)
    _audit_analysis(
        session, consultation, job, outcome=Outcome.failure, details={"attempts": job.attempts}
    )


def _audit_analysis(
    session: Session,
    consultation: Consultation,
    job: AnalysisJob,
    **extras: Unpack[audit_service.Extras],
) -> None:
    """The ``consultation.analysis`` event of an analysis that ended (the worker's: no actor)."""
    audit_service.record_consultation(
        session,
        None,
        "consultation.analysis",
        consultation,
        part=("analysis_job", job.id),
        **extras,
    )


def _overtaken_by_doctor(session: Session, consultation: Consultation) -> bool:
    """A re-analysis (the case already has a suggestion) of a case a doctor has claimed since:
    the doctor keeps the suggestion they opened rather than see it change under them."""
    return consultation.doctor_id is not None and (
        diagnosis_service.current_suggestion(session, consultation_id=consultation.id) is not None
    )


REANALYSE_LIMIT = 1000  # consultations queued by one request; the rest on the next


def reanalyse_unclaimed(session: Session, *, actor: User, limit: int = REANALYSE_LIMIT) -> int:
    """Queue a fresh analysis, by whichever model is active when it runs, of every consented
    consultation waiting for a doctor that no doctor has claimed (caller commits); how many.

    Doctors keep seeing the current suggestion until the new one replaces it; a case a doctor
    claims in between keeps the suggestion the doctor opened (``_overtaken_by_doctor``).
    """
    rows = session.execute(
        select(Consultation, AnalysisJob)
        .join(AnalysisJob, AnalysisJob.consultation_id == Consultation.id)
        .where(
            Consultation.status == ConsultationStatus.awaiting_review,
            Consultation.doctor_id.is_(None),
            Consultation.ai_consent,
            AnalysisJob.status.in_(
                (JobStatus.succeeded, JobStatus.failed, JobStatus.waiting_for_model)
            ),
        )
        .order_by(Consultation.urgency_rank, Consultation.submitted_at)
        .limit(limit)
        # Rows another transaction holds (a doctor claiming, an analysis storing) are left out.
        .with_for_update(skip_locked=True)
    ).all()
    for _consultation, job in rows:
        queue.requeue_analysis(session, job=job)
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="consultation.reanalysis.queued",
        record_type="analysis_job",
        details={"consultations": len(rows)},
    )
    return len(rows)


def intake(session: Session, consultation: Consultation) -> tuple[str, StructuredCase | None]:
    """The intake interview's answers as English text (the DDXPlus renderer) and as a structured
    case; ("", None) without answers."""
    from medconsult.interview import questionnaire
    from medconsult.interview import service as interview_service

    answers = interview_service.answers_for(session, consultation_id=consultation.id)
    if not answers:
        return "", None
    try:
        return (
            questionnaire.render(answers),
            interview_service.structured_case(session, consultation=consultation, answers=answers),
        )
    except Exception as exc:  # the free text is still worth analysing without the answers
        log.warning("intake answers of %s not rendered: %s", consultation.id, exc)
        return "", None


def claim(
    session: Session,
    *,
    consultation_id: uuid.UUID,
    models: ModelProvider,
    settings: Settings,
) -> Claim | str:
    """Take the job for this run (caller commits); a ``Claim``, or the reason there is nothing
    to run: "missing", "done", "claimed", "concluded", "waiting_for_model" or "failed"."""
    consultation, job = _lock(session, consultation_id)
    if consultation is None:
        return "missing"
    if job is None:
        job = AnalysisJob(consultation_id=consultation.id, status=JobStatus.queued, attempts=0)
        session.add(job)
        session.flush()
    if job.status is JobStatus.succeeded and diagnosis_service.current_suggestion(
        session, consultation_id=consultation.id
    ):
        return "done"  # a duplicate delivery: the analysis is already stored
    if job.status is JobStatus.failed:
        return "failed"
    if _overtaken_by_doctor(session, consultation):
        job.status = JobStatus.succeeded
        job.finished_at = utcnow()
        return "claimed"
    if consultation.status in FINAL_CONSULTATION_STATUSES:
        # The doctor decided without AI; a suggestion they never saw would mislead the record.
        _mark_failed(session, consultation, job, "The consultation was concluded before analysis.")
        return "concluded"
    model_dir = models.resolve(session)
    if model_dir is None:
        job.status = JobStatus.waiting_for_model
        job.last_error = "No model is available."
        _release_to_doctors(consultation)
        return "waiting_for_model"
    job.attempts += 1
    if job.attempts > settings.job_max_attempts:
        _mark_failed(
            session, consultation, job, f"Gave up after {settings.job_max_attempts} attempts."
        )
        return "failed"
    job.status = JobStatus.running
    job.started_at = utcnow()
    if consultation.status is ConsultationStatus.submitted:
        consultation.status = ConsultationStatus.analysing
    intake_text, intake_case = intake(session, consultation)
    text = diagnosis_service.compose_analysed_text(
        consultation, max_chars=settings.max_text_chars, intake=intake_text
    )
    session.flush()
    return Claim(
        model_dir=model_dir,
        text=text,
        attempt=job.attempts,
        triage_text=triage_service.patient_text(consultation),
        intake_text=intake_text[: settings.max_text_chars],
        intake_case=intake_case,
    )


def store(
    session: Session,
    *,
    consultation_id: uuid.UUID,
    suggestion: Suggestion,
    text: str,
    red_flags: Sequence[Flag] = (),
) -> bool:
    """Store the result as the current suggestion, with any new red flags of the semantic layer
    (caller commits); False if it is stale."""
    consultation, job = _lock(session, consultation_id)
    if consultation is None or job is None or job.status is not JobStatus.running:
        return False
    added = triage_service.merge_flags(consultation, red_flags)
    if _overtaken_by_doctor(session, consultation):
        job.status = JobStatus.succeeded
        job.finished_at = utcnow()
        return False
    diagnosis_service.store_suggestion(
        session, consultation=consultation, suggestion=suggestion, analysed_text=text
    )
    job.status = JobStatus.succeeded
    job.last_error = None
    job.finished_at = utcnow()
    SUBMIT_TO_SUGGESTION_SECONDS.observe((job.finished_at - job.created_at).total_seconds())
    _release_to_doctors(consultation)
    _audit_analysis(
        session,
        consultation,
        job,
        details={
            "model_version": suggestion.model_version,
            "urgency": suggestion.urgency,
            "semantic_red_flags": [flag.category for flag in added],
        },
    )
    return True


def requeue_for_new_answers(
    session: Session, *, consultation_id: uuid.UUID, intake_read: str, settings: Settings
) -> bool:
    """Queue the analysis again when intake answers came in while it ran (caller commits);
    whether it was queued.

    The interview cannot queue an analysis that is running (it has already read its text), so
    a stored analysis compares the answers it read with those there now: answers it did not
    read get an analysis of their own, unless a doctor has claimed the case since."""
    from medconsult.interview import service as interview_service

    consultation, job = _lock(session, consultation_id)
    if consultation is None or job is None or job.status is not JobStatus.succeeded:
        return False
    current, _case = intake(session, consultation)
    if current[: settings.max_text_chars] == intake_read:
        return False
    # The interview's own rule: consent, no doctor yet, not concluded; audited.
    return interview_service.queue_reanalysis(session, consultation=consultation)


def record_failure(
    session: Session,
    *,
    consultation_id: uuid.UUID,
    error: BaseException,
    settings: Settings,
) -> bool:
    """Note a failed attempt (caller commits); True if the job should be retried."""
    consultation, job = _lock(session, consultation_id)
    if consultation is None or job is None:
        return False
    # The error's class and message only: model errors name lengths and files, not patient text.
    message = f"{type(error).__name__}: {error}"
    permanent = isinstance(error, InputTextError)
    if permanent or job.attempts >= settings.job_max_attempts:
        _mark_failed(session, consultation, job, message)
        return False
    job.status = JobStatus.queued
    job.last_error = message[:1000]
    return True


def analyse(
    factory: sessionmaker[Session],
    *,
    consultation_id: uuid.UUID,
    models: ModelProvider,
    settings: Settings,
) -> str:
    """Run the whole analysis of one consultation; the outcome ("succeeded", ...).

    Raises ``RetryLater`` when the engine should run it again.
    """
    with factory() as session, session.begin():
        claimed = claim(session, consultation_id=consultation_id, models=models, settings=settings)
    if isinstance(claimed, str):
        log.info("analysis of %s: %s", consultation_id, claimed)
        return claimed
    pause = hold_seconds(settings)
    if pause:
        time.sleep(pause)
    # The English model (and the English semantic layer) cannot read a Chinese free text: it
    # reads the intake interview's answers (rendered in English) where the patient gave them,
    # else it abstains and says why, rather than rank diagnoses from tokens it never learned.
    readable = not language.model_cannot_read(
        claimed.triage_text or claimed.text, settings.cjk_abstain_share
    )
    analysed_text = claimed.text if readable else claimed.intake_text
    try:
        if analysed_text:
            # The semantic layer and the classifier are separate models with threads of their
            # own: the analysis waits for the slower of the two, not for both in turn.
            semantic_flags = (
                start_semantic_flags(claimed.triage_text, settings) if readable else _no_flags
            )
            with models.use(claimed.model_dir) as model:
                suggestion = model.suggest(
                    diagnosis_service.without_section_titles(analysed_text),
                    claimed.intake_case,
                )
            flags = semantic_flags()
        else:
            suggestion = unreadable_text_suggestion(model_version=claimed.model_dir.name)
            flags = []
    except Exception as exc:
        log.warning("analysis of %s failed (attempt %d): %s", consultation_id, claimed.attempt, exc)
        with factory() as session, session.begin():
            retry = record_failure(
                session, consultation_id=consultation_id, error=exc, settings=settings
            )
        if retry:
            raise RetryLater(str(exc)) from exc
        return "failed"
    with factory() as session, session.begin():
        stored = store(
            session,
            consultation_id=consultation_id,
            suggestion=suggestion,
            text=analysed_text or claimed.text,
            red_flags=flags,
        )
        if stored:
            requeue_for_new_answers(
                session,
                consultation_id=consultation_id,
                intake_read=claimed.intake_text,
                settings=settings,
            )
    return "succeeded" if stored else "superseded"
