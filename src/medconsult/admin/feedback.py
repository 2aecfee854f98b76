"""The doctors' feedback loop: concluded consultations as a labelled, de-identified training CSV.

The file has the header ``label,text`` that ``medconsult train --data`` reads (the
``label-text-csv`` format of ``medconsult.ml.data``):

- ``label`` is the canonical label key of the doctor's signed diagnosis (the latest review that
  no later review amends). When the review names no model label, the free-text diagnosis is
  looked up among the labels' names and aliases; consultations whose diagnosis is still not a
  known label are SKIPPED, because the classifier's label set is fixed by ``labels.json`` (a new
  label needs a new entry there first). The export summary counts them.
- ``text`` is the chief complaint followed by the history, de-identified by ``admin.deid`` with
  what the platform knows about the patient (account and profile names, email, phone, date of
  birth) plus pattern rules.
- Only consultations whose patient consented to AI analysis are exported.

This export is the one place an administrator receives consultation text, de-identified and
for retraining only; every export is audited (counts and filters, never text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.admin.deid import deidentify
from medconsult.audit import service as audit_service
from medconsult.consultations.models import Consultation, ConsultationStatus
from medconsult.ml.labels import canonical_key
from medconsult.patients.models import PatientProfile
from medconsult.review.models import DoctorReview
from medconsult.review.queries import is_current_conclusion

CSV_HEADER = ("label", "text")
EXPORT_STATUSES = (ConsultationStatus.concluded, ConsultationStatus.closed)
_BATCH = 500


def _signed_reviews(since: datetime | None) -> Select[DoctorReview]:
    stmt = (
        select(DoctorReview)
        .join(Consultation, Consultation.id == DoctorReview.consultation_id)
        .where(
            Consultation.status.in_(EXPORT_STATUSES),
            Consultation.ai_consent,
            is_current_conclusion(),
        )
    )
    if since is not None:
        stmt = stmt.where(DoctorReview.signed_at >= since)
    return stmt


def export_label(final_label: str | None, final_diagnosis: str) -> str | None:
    """The training label of a signed diagnosis, or None when it is not a model label."""
    for raw in (final_label, final_diagnosis):
        key = canonical_key(raw) if raw else None
        if key is not None:
            return key
    return None


def training_text(consultation: Consultation, profile: PatientProfile | None, user: User) -> str:
    """Chief complaint and history on one line, de-identified."""
    complaint = " ".join(consultation.chief_complaint.split())
    history = " ".join(consultation.history.split())
    if complaint and history and complaint[-1] not in ".!?":
        complaint += "."
    joined = f"{complaint} {history}".strip()
    names = [user.full_name, *([profile.full_name] if profile else [])]
    return deidentify(
        joined,
        names=names,
        emails=[user.email],
        phones=[profile.phone] if profile and profile.phone else [],
        dates=[profile.date_of_birth] if profile and profile.date_of_birth else [],
    )


@dataclass
class ExportStats:
    written: int = 0
    skipped_unknown_label: int = 0


def count_candidates(session: Session, *, since: datetime | None = None) -> int:
    """How many signed, consented, concluded consultations an export would consider."""
    return session.scalar(select(func.count()).select_from(_signed_reviews(since).subquery())) or 0


def iter_rows(
    session: Session, *, since: datetime | None = None, stats: ExportStats | None = None
) -> Iterator[tuple[str, str]]:
    """``(label, de-identified text)`` per exportable consultation, in signing order."""
    stats = stats if stats is not None else ExportStats()
    stmt = (
        _signed_reviews(since)
        .add_columns(Consultation, User, PatientProfile)
        .join(User, User.id == Consultation.patient_id)
        .outerjoin(PatientProfile, PatientProfile.user_id == User.id)
        .order_by(DoctorReview.signed_at, DoctorReview.id)
        .execution_options(yield_per=_BATCH)
    )
    for review, consultation, user, profile in session.execute(stmt):
        label = export_label(review.final_label, review.final_diagnosis)
        text = training_text(consultation, profile, user)
        if label is None or not text:
            stats.skipped_unknown_label += 1
            continue
        stats.written += 1
        yield label, text


def csv_chunks(
    session: Session,
    *,
    actor: User,
    stream_session: Callable[[], Session],
    since: datetime | None = None,
) -> Iterator[str]:
    """Record the export, then stream the CSV in chunks, read through ``stream_session`` (the
    request's own session has committed and closed by the time the stream is read)."""
    audit_service.record(
        session,
        actor=actor,
        action="feedback.exported",
        details={
            "candidates": count_candidates(session, since=since),
            "since": since.isoformat() if since else None,
            "format": "label-text-csv",
        },
    )

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        with stream_session() as reader, reader.begin():
            for count, row in enumerate(iter_rows(reader, since=since), start=1):
                writer.writerow(row)
                if count % _BATCH == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return generate()
