"""Consultations: submit (with reports and the analysis job, in one transaction), read, list,
report files and messages. Every read and write of patient data is checked and audited."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from medconsult import access
from medconsult.accounts.models import Role, User
from medconsult.audit import service as audit_service
from medconsult.config import Settings, get_settings
from medconsult.consultations import files as report_files
from medconsult.consultations.models import Consultation, ConsultationStatus, Message, ReportFile
from medconsult.consultations.schemas import MESSAGE_MAX, ConsultationCreate
from medconsult.diagnosis import service as diagnosis_service
from medconsult.diagnosis.models import AISuggestion
from medconsult.errors import Conflict, Forbidden, NotFound, ValidationFailed
from medconsult.i18n import _
from medconsult.jobs import queue
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.jobs.queries import analysis_job
from medconsult.notifications import service as notifications_service
from medconsult.notifications.models import NotificationKind
from medconsult.review import advice as advice_library
from medconsult.review.models import Decision, DoctorReview
from medconsult.review.queries import latest_review
from medconsult.triage import advice as triage_advice
from medconsult.triage import service as triage_service

log = logging.getLogger(__name__)

# Statuses in which the AI analysis has not produced its result yet.
PENDING_STATUSES = frozenset({ConsultationStatus.submitted, ConsultationStatus.analysing})
PENDING_JOB_STATUSES = frozenset({JobStatus.queued, JobStatus.running})
TEXT_FIELDS = ("history", "past_history", "current_medications")


def new_idempotency_key() -> str:
    """A fresh key for a new-consultation form: a resubmitted form creates nothing twice."""
    return secrets.token_urlsafe(24)


# --- access --------------------------------------------------------------------------------------


def _load(session: Session, consultation_id: uuid.UUID) -> Consultation | None:
    return session.scalar(
        select(Consultation)
        .where(Consultation.id == consultation_id)
        .options(selectinload(Consultation.reports))
    )


def get_consultation(
    session: Session, *, actor: User, consultation_id: uuid.UUID, action: str = "consultation.read"
) -> Consultation:
    """Read one consultation (checked and audited)."""
    consultation = access.check_consultation(
        session,
        actor=actor,
        consultation=_load(session, consultation_id),
        action=action,
        consultation_id=consultation_id,
    )
    audit_service.record_consultation(session, actor, action, consultation)
    return consultation


def list_own(session: Session, *, actor: User) -> list[Consultation]:
    """The patient's consultations, newest first (audited)."""
    if actor.role is not Role.patient:
        raise Forbidden(_("Only patients have consultations of their own."))
    rows = session.scalars(
        select(Consultation)
        .where(Consultation.patient_id == actor.id)
        .order_by(Consultation.submitted_at.desc(), Consultation.id)
    ).all()
    audit_service.record(
        session,
        actor=actor,
        action="consultation.list",
        record_type="consultation",
        patient_id=actor.id,
        details={"count": len(rows)},
    )
    return list(rows)


# --- submission ----------------------------------------------------------------------------------


def _check_text_limits(data: ConsultationCreate, settings: Settings) -> None:
    errors = {
        field: _("Please keep this under %(limit)d characters.")
        % {"limit": settings.max_text_chars}
        for field in TEXT_FIELDS
        if len(getattr(data, field)) > settings.max_text_chars
    }
    if errors:
        raise ValidationFailed(errors)


def _existing_for_key(session: Session, *, patient_id: uuid.UUID, key: str) -> Consultation | None:
    return session.scalar(
        select(Consultation).where(
            Consultation.patient_id == patient_id, Consultation.idempotency_key == key
        )
    )


def submit(
    session: Session,
    *,
    actor: User,
    data: ConsultationCreate,
    uploads: list[report_files.UploadedFile],
    settings: Settings | None = None,
) -> tuple[Consultation, bool]:
    """Create a consultation with its reports and queue its analysis; (consultation, created).

    Everything is checked before anything is written. A repeated idempotency key returns the
    consultation it created the first time, unchanged.
    """
    settings = settings or get_settings()
    if actor.role is not Role.patient:
        raise Forbidden(_("Only patients can start a consultation."))
    if data.idempotency_key:
        existing = _existing_for_key(session, patient_id=actor.id, key=data.idempotency_key)
        if existing is not None:
            return existing, False
    _check_text_limits(data, settings)
    checked = report_files.check_files(uploads, settings=settings)

    consultation = Consultation(
        patient_id=actor.id,
        chief_complaint=data.chief_complaint,
        history=data.history,
        past_history=data.past_history,
        current_medications=data.current_medications,
        ai_consent=data.ai_consent,
        idempotency_key=data.idempotency_key,
        status=ConsultationStatus.submitted,
    )
    # Red flags before anything else: the patient's emergency advice and the queue's order
    # must not wait for, or depend on, the AI analysis.
    flags = triage_service.triage_on_store(consultation)
    try:
        # A double-click sends the same key twice at once: the second insert waits for the
        # first transaction on the unique index, then fails here, and we return the first.
        with session.begin_nested():
            session.add(consultation)
            session.flush()
    except IntegrityError:
        existing = (
            _existing_for_key(session, patient_id=actor.id, key=data.idempotency_key)
            if data.idempotency_key
            else None
        )
        if existing is None:
            raise
        return existing, False

    for item in checked:
        storage_key = report_files.new_storage_key()
        report_files.store_bytes(settings.upload_dir, storage_key, item.data)
        session.add(
            ReportFile(
                consultation_id=consultation.id,
                original_name=item.original_name,
                content_type=item.content_type,
                size_bytes=len(item.data),
                sha256=item.sha256,
                storage_key=storage_key,
                extracted_text=item.extracted_text,
                extraction_failed=item.extraction_failed,
            )
        )
    job = AnalysisJob(consultation_id=consultation.id, status=JobStatus.queued, attempts=0)
    session.add(job)
    session.flush()
    job.engine_job_id = queue.defer_analysis(session, consultation_id=consultation.id)
    audit_service.record_consultation(
        session,
        actor,
        "consultation.create",
        consultation,
        details={"reports": len(checked), "red_flags": [flag.category for flag in flags]},
    )
    session.flush()
    session.refresh(consultation, attribute_names=["reports"])
    return consultation, True


ORPHAN_BATCH = 1000  # storage keys looked up per query when pruning


def prune_orphan_reports(
    session: Session, *, upload_dir: Path, grace_seconds: float, now: float | None = None
) -> int:
    """Delete stored report files that no report row references, once older than
    ``grace_seconds``; returns how many were deleted.

    ``submit`` writes files before its transaction commits, so a rollback (a failed request, a
    crash before commit) leaves them on disk with nothing pointing at them: patient documents
    nobody can see or erase. Partial writes (``.part``) are such files too. The grace period
    spares files whose submission is still in flight. Reads only; the caller's transaction
    holds nothing.
    """
    cutoff = (time.time() if now is None else now) - grace_seconds
    candidates = list(report_files.stored_before(upload_dir, cutoff))
    deleted = 0
    for start in range(0, len(candidates), ORPHAN_BATCH):
        batch = candidates[start : start + ORPHAN_BATCH]
        referenced = set(
            session.scalars(
                select(ReportFile.storage_key).where(
                    ReportFile.storage_key.in_([key for key, _ in batch])
                )
            )
        )
        for key, path in batch:
            if key not in referenced or path.suffix == ".part":
                report_files.delete_stored(path)
                deleted += 1
    if deleted:
        log.info("deleted %d report files that no consultation references", deleted)
    return deleted


# --- what the patient's page shows ---------------------------------------------------------------


AI_VERDICTS = {
    Decision.accept: "accepted",
    Decision.modify: "modified",
    Decision.reject: "overridden",
}


@dataclass(frozen=True)
class ConsultationDetail:
    """Everything the patient's consultation page shows, already reduced for the patient."""

    consultation: Consultation
    job: AnalysisJob | None
    suggestion: diagnosis_service.PatientSuggestionView | None
    suggestion_preliminary: bool
    review: DoctorReview | None
    ai_verdict: str | None
    # The "seek help now if ..." lines that end a signed conclusion (message ids).
    safety_netting: tuple[str, ...]
    analysis_pending: bool
    awaiting_model: bool
    analysis_failed: bool
    # What to do now for the consultation's own red flags (None: no flag).
    advice: triage_advice.Advice | None = None


def _is_concluded(consultation: Consultation) -> bool:
    return consultation.status in (ConsultationStatus.concluded, ConsultationStatus.closed)


def detail(
    session: Session,
    *,
    actor: User,
    consultation_id: uuid.UUID,
    settings: Settings | None = None,
) -> ConsultationDetail:
    """The consultation with its analysis state, the patient's view of the AI suggestion and
    the doctor's conclusion (checked and audited)."""
    settings = settings or get_settings()
    consultation = get_consultation(session, actor=actor, consultation_id=consultation_id)
    job, stored = _job_and_suggestion(session, consultation_id=consultation.id)
    review = latest_review(session, consultation_id=consultation.id)
    return _detail(consultation, job=job, stored=stored, review=review, settings=settings)


def detail_after_submit(
    session: Session, *, consultation: Consultation, settings: Settings | None = None
) -> ConsultationDetail:
    """The detail of a consultation ``submit`` has just created, for its author in the same
    request: nothing can have happened to it yet, so neither a suggestion nor a review is looked
    up, and its "consultation.create" audit entry stands for this read too (under load this
    answer was about a third of the submission's work in the web process)."""
    return _detail(
        consultation,
        job=analysis_job(session, consultation_id=consultation.id),
        stored=None,
        review=None,
        settings=settings or get_settings(),
    )


def _detail(
    consultation: Consultation,
    *,
    job: AnalysisJob | None,
    stored: AISuggestion | None,
    review: DoctorReview | None,
    settings: Settings,
) -> ConsultationDetail:
    concluded = _is_concluded(consultation) and review is not None
    show = stored is not None and (settings.show_unreviewed_suggestions or concluded)
    return ConsultationDetail(
        consultation=consultation,
        job=job,
        suggestion=diagnosis_service.patient_view(stored) if show and stored else None,
        suggestion_preliminary=not concluded,
        review=review if concluded else None,
        ai_verdict=AI_VERDICTS.get(review.decision) if concluded and review else None,
        safety_netting=(
            advice_library.safety_netting(review.final_label) if concluded and review else ()
        ),
        analysis_pending=_analysis_pending(consultation, job),
        awaiting_model=job is not None and job.status is JobStatus.waiting_for_model,
        analysis_failed=job is not None and job.status is JobStatus.failed,
        advice=triage_advice.advice_for(triage_service.flags_of(consultation), settings),
    )


def _job_and_suggestion(
    session: Session, *, consultation_id: uuid.UUID
) -> tuple[AnalysisJob | None, AISuggestion | None]:
    """The analysis job and the current suggestion, in one statement (at most one of each)."""
    row = session.execute(
        select(AnalysisJob, AISuggestion)
        .select_from(Consultation)
        .outerjoin(AnalysisJob, AnalysisJob.consultation_id == Consultation.id)
        .outerjoin(AISuggestion, diagnosis_service.is_current_suggestion_of(Consultation.id))
        .where(Consultation.id == consultation_id)
    ).one()
    return row[0], row[1]


def _analysis_pending(consultation: Consultation, job: AnalysisJob | None) -> bool:
    return (
        consultation.status in PENDING_STATUSES
        and job is not None
        and job.status in PENDING_JOB_STATUSES
    )


@dataclass(frozen=True)
class AnalysisState:
    status: ConsultationStatus
    job_status: JobStatus | None
    pending: bool


def analysis_state(session: Session, *, actor: User, consultation_id: uuid.UUID) -> AnalysisState:
    """Just the status of the consultation and its analysis (for polling; no clinical text)."""
    consultation = get_consultation(
        session, actor=actor, consultation_id=consultation_id, action="consultation.status.read"
    )
    job = analysis_job(session, consultation_id=consultation.id)
    return AnalysisState(
        status=consultation.status,
        job_status=job.status if job else None,
        pending=_analysis_pending(consultation, job),
    )


# --- report files --------------------------------------------------------------------------------


def get_report(
    session: Session,
    *,
    actor: User,
    consultation_id: uuid.UUID,
    report_id: uuid.UUID,
    settings: Settings | None = None,
) -> tuple[ReportFile, bytes]:
    """A report's metadata and bytes, for its patient or a doctor (audited)."""
    settings = settings or get_settings()
    consultation = access.readable_consultation(
        session, actor=actor, consultation_id=consultation_id, action="consultation.report.read"
    )
    report = session.scalar(
        select(ReportFile).where(
            ReportFile.id == report_id, ReportFile.consultation_id == consultation.id
        )
    )
    if report is None:
        raise NotFound(_("Report not found."))
    data = report_files.read_bytes(settings.upload_dir, report.storage_key)
    audit_service.record_consultation(
        session, actor, "consultation.report.read", consultation, part=("report_file", report.id)
    )
    return report, data


# --- messages ------------------------------------------------------------------------------------


def post_message(
    session: Session, *, actor: User, consultation_id: uuid.UUID, body: str
) -> Message:
    """Post a message on a consultation: its patient or a doctor (audited, without the text)."""
    consultation = access.readable_consultation(
        session, actor=actor, consultation_id=consultation_id, action="consultation.message.post"
    )
    text = body.strip() if isinstance(body, str) else ""
    if not text:
        raise ValidationFailed({"body": _("Please write a message.")})
    if len(text) > MESSAGE_MAX:
        raise ValidationFailed(
            {"body": _("Please keep messages under %(limit)d characters.") % {"limit": MESSAGE_MAX}}
        )
    if consultation.status is ConsultationStatus.closed:
        raise Conflict(_("This consultation is closed; messages can no longer be sent."))
    message = Message(consultation_id=consultation.id, sender_id=actor.id, body=text)
    session.add(message)
    session.flush()
    audit_service.record_consultation(
        session, actor, "consultation.message.post", consultation, part=("message", message.id)
    )
    patient = session.get(User, consultation.patient_id)
    if actor.role is Role.doctor and patient is not None:
        notifications_service.notify(
            session,
            user=patient,
            kind=NotificationKind.doctor_message,
            link_path=f"/consultations/{consultation.id}",
        )
    return message


def list_messages(session: Session, *, actor: User, consultation_id: uuid.UUID) -> list[Message]:
    """A consultation's messages, oldest first, for its patient or a doctor (audited)."""
    consultation = access.readable_consultation(
        session, actor=actor, consultation_id=consultation_id, action="consultation.messages.read"
    )
    rows = session.scalars(
        select(Message)
        .where(Message.consultation_id == consultation.id)
        .options(selectinload(Message.sender))
        .order_by(Message.created_at, Message.id)
    ).all()
    audit_service.record_consultation(
        session, actor, "consultation.messages.read", consultation, details={"count": len(rows)}
    )
    return list(rows)
