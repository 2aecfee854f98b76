"""Records: a patient's FHIR bundle, printable reports, the data download and account erasure.

Reads reuse the domain services' access rules (a patient sees their own record, a doctor the
records of patients who consulted, an admin none) and every read, download and erasure is
audited. Erasure keeps signed clinical records, stripped of identifiers, for
``record_retention_years``; the worker's sweep purges them afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import secrets
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Unpack

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from medconsult import access
from medconsult.accounts import passwords
from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import LoginFailure, PasswordToken, Role, User
from medconsult.audit import service as audit_service
from medconsult.audit.models import Outcome
from medconsult.config import Settings, get_settings
from medconsult.consultations import files as report_files
from medconsult.consultations.models import Consultation, ConsultationStatus, Message, ReportFile
from medconsult.db import utcnow
from medconsult.diagnosis.models import AISuggestion
from medconsult.errors import Forbidden, Gone, NotFound, ValidationFailed
from medconsult.i18n import N_, _
from medconsult.interview import service as interview_service
from medconsult.patients.models import PatientProfile
from medconsult.records import fhir, report
from medconsult.review import queries as review_queries
from medconsult.review.models import DoctorReview

log = logging.getLogger(__name__)

ERASED_EMAIL_DOMAIN = "erased.invalid"  # RFC 2606: never deliverable
EXPORT_LINK_INVALID = N_("This download link is not valid. Please request a new one.")
EXPORT_LINK_EXPIRED = N_("This download link has expired. Please request a new one.")


# --- collecting a record -------------------------------------------------------------------------


def _consultation_record(session: Session, consultation: Consultation) -> fhir.ConsultationRecord:
    suggestions = session.scalars(
        select(AISuggestion)
        .where(AISuggestion.consultation_id == consultation.id)
        .order_by(AISuggestion.created_at, AISuggestion.id)
    ).all()
    reviews = review_queries.review_history(session, consultation_id=consultation.id)
    messages = session.scalars(
        select(Message)
        .options(joinedload(Message.sender))
        .where(Message.consultation_id == consultation.id)
        .order_by(Message.created_at, Message.id)
    ).all()
    return fhir.ConsultationRecord(
        consultation=consultation,
        reports=list(consultation.reports),
        suggestions=list(suggestions),
        reviews=list(reversed(reviews)),
        messages=list(messages),
        interview_answers=interview_service.answer_views_for(
            session, consultation_id=consultation.id
        ),
    )


def _profile(session: Session, patient_id: uuid.UUID) -> PatientProfile | None:
    return session.scalar(select(PatientProfile).where(PatientProfile.user_id == patient_id))


def collect(session: Session, *, patient: User) -> fhir.PatientRecord:
    """Everything stored about one patient (unchecked: callers check access first)."""
    consultations = session.scalars(
        select(Consultation)
        .options(selectinload(Consultation.reports), joinedload(Consultation.doctor))
        .where(Consultation.patient_id == patient.id)
        .order_by(Consultation.submitted_at, Consultation.id)
    ).all()
    return fhir.PatientRecord(
        patient=patient,
        profile=_profile(session, patient.id),
        consultations=[_consultation_record(session, c) for c in consultations],
    )


def _patient(session: Session, patient_id: uuid.UUID) -> User:
    patient = session.get(User, patient_id)
    if patient is None or patient.role is not Role.patient:
        raise NotFound(_("Patient not found."))
    return patient


def _audit_record(
    session: Session,
    actor: User,
    action: str,
    patient_id: uuid.UUID,
    **extras: Unpack[audit_service.Extras],
) -> None:
    """Audit an event about one patient's whole record."""
    subject = audit_service.patient_record(patient_id)
    audit_service.record(session, actor=actor, action=action, **subject, **extras)


# --- FHIR ----------------------------------------------------------------------------------------


def patient_everything(
    session: Session,
    *,
    actor: User,
    patient_id: uuid.UUID,
    base_url: str,
    now: datetime | None = None,
) -> Bundle:
    """``Patient/$everything``: the patient's record as a FHIR Bundle (checked and audited)."""
    access.check_patient(session, actor=actor, patient_id=patient_id, action="records.fhir.read")
    patient = _patient(session, patient_id)
    record = collect(session, patient=patient)
    bundle = fhir.everything_bundle(record, base_url=base_url, now=now or utcnow())
    details = {"resources": bundle.total, "consultations": len(record.consultations)}
    _audit_record(session, actor, "records.fhir.read", patient.id, details=details)
    return bundle


# --- printable report ----------------------------------------------------------------------------


def _report_content(
    session: Session,
    *,
    reader: User,
    item: fhir.ConsultationRecord,
    settings: Settings,
    now: datetime,
) -> report.ReportContent:
    consultation = item.consultation
    review = review_queries.latest_review(session, consultation_id=consultation.id)
    concluded = review is not None and consultation.status in (
        ConsultationStatus.concluded,
        ConsultationStatus.closed,
    )
    current = next((s for s in reversed(item.suggestions) if s.is_current), None)
    # Patients see the AI's output as the consultation page shows it to them.
    show_ai = reader.role is Role.doctor or settings.show_unreviewed_suggestions or concluded
    return report.ReportContent(
        consultation=consultation,
        profile=_profile(session, consultation.patient_id),
        reports=item.reports,
        interview_answers=item.interview_answers,
        suggestion=current if show_ai else None,
        review=review if concluded else None,
        doctor_name=review.doctor.full_name if review is not None else "",
        generated_at=now,
    )


def report_filename(consultation: Consultation) -> str:
    return f"consultation-{consultation.submitted_at:%Y-%m-%d}-{str(consultation.id)[:8]}.pdf"


def consultation_report(
    session: Session,
    *,
    actor: User,
    consultation_id: uuid.UUID,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[str, bytes]:
    """The printable report of one consultation: (file name, PDF bytes); checked and audited."""
    settings = settings or get_settings()
    consultation = access.readable_consultation(
        session, actor=actor, consultation_id=consultation_id, action="records.report.read"
    )
    item = _consultation_record(session, consultation)
    content = _report_content(
        session, reader=actor, item=item, settings=settings, now=now or utcnow()
    )
    data = report.render_pdf(content, font_path=settings.report_font_path)
    audit_service.record_consultation(session, actor, "records.report.read", consultation)
    return report_filename(consultation), data


# --- "Download my data" --------------------------------------------------------------------------


def _sign(payload: str, settings: Settings) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"records-export:" + payload.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ExportLink:
    token: str
    expires_at: datetime


def issue_export_link(
    session: Session, *, actor: User, settings: Settings | None = None, now: datetime | None = None
) -> ExportLink:
    """A signed, short-lived link to the patient's own data download (audited)."""
    settings = settings or get_settings()
    if actor.role is not Role.patient:
        raise Forbidden(_("Only patients can download their own data."))
    expires_at = (now or utcnow()) + timedelta(minutes=settings.export_link_minutes)
    payload = f"{actor.id.hex}.{int(expires_at.timestamp())}.{secrets.token_hex(4)}"
    details = {"expires_at": expires_at.isoformat()}
    _audit_record(session, actor, "records.export.link", actor.id, details=details)
    return ExportLink(token=f"{payload}.{_sign(payload, settings)}", expires_at=expires_at)


def _check_export_token(
    session: Session, *, actor: User, token: str, settings: Settings, now: datetime
) -> None:
    parts = token.split(".") if len(token) < 200 else []
    valid = len(parts) == 4 and hmac.compare_digest(parts[3], _sign(".".join(parts[:3]), settings))
    problem: str | None = None
    if not valid or parts[0] != actor.id.hex:
        problem = "invalid"  # forged, altered, or another patient's link: reveal nothing
    elif not parts[1].isdigit() or int(parts[1]) <= int(now.timestamp()):
        problem = "expired"
    if problem is None:
        return
    details = {"reason": problem}
    _audit_record(
        session, actor, "records.export.download", actor.id, outcome=Outcome.denied, details=details
    )
    if problem == "expired":
        raise Gone(_(EXPORT_LINK_EXPIRED))
    raise NotFound(_(EXPORT_LINK_INVALID))


def export_archive(
    session: Session,
    *,
    actor: User,
    token: str,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> bytes:
    """The patient's data as a zip: the FHIR bundle, a PDF report per consultation and the
    uploaded report files. Only the patient the link was issued to may use it (audited)."""
    settings = settings or get_settings()
    now = now or utcnow()
    if actor.role is not Role.patient:
        raise NotFound(_(EXPORT_LINK_INVALID))
    _check_export_token(session, actor=actor, token=token, settings=settings, now=now)
    record = collect(session, patient=actor)
    bundle = fhir.everything_bundle(record, base_url="urn:medconsult:", now=now)
    buffer = io.BytesIO()
    files = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fhir/Patient-everything.json", bundle.model_dump_json(indent=2))
        for item in record.consultations:
            content = _report_content(session, reader=actor, item=item, settings=settings, now=now)
            name = report_filename(item.consultation)
            archive.writestr(
                f"reports/{name}", report.render_pdf(content, font_path=settings.report_font_path)
            )
            for upload in item.reports:
                try:
                    data = report_files.read_bytes(settings.upload_dir, upload.storage_key)
                except (FileNotFoundError, NotFound):
                    continue
                # The stored id, never the patient's file name, makes the path.
                extension = report_files.safe_display_name(upload.original_name).rpartition(".")
                suffix = f".{extension[2][:10]}" if extension[1] else ""
                archive.writestr(f"uploads/{name[:-4]}/{upload.id}{suffix}", data)
                files += 1
        archive.writestr(
            "README.txt",
            _(
                "Your MedConsult data. fhir/ holds your record as a FHIR R4 Bundle (JSON); "
                "reports/ a printable PDF per consultation; uploads/ the files you uploaded. "
                "AI suggestions in it are decision support only; the doctor's signed conclusion "
                "is what counts."
            )
            + "\n",
        )
    details = {"consultations": len(record.consultations), "files": files}
    _audit_record(session, actor, "records.export.download", actor.id, details=details)
    return buffer.getvalue()


# --- "Delete my account" -------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureResult:
    deleted_consultations: int
    retained_consultations: int
    retain_until: datetime | None


def _signed_consultation_ids(session: Session, patient_id: uuid.UUID) -> set[uuid.UUID]:
    return set(
        session.scalars(
            select(Consultation.id).where(
                Consultation.patient_id == patient_id,
                exists().where(DoctorReview.consultation_id == Consultation.id),
            )
        )
    )


def _delete_consultations(session: Session, ids: list[uuid.UUID]) -> None:
    if not ids:
        return
    # Amendments reference the review they amend (RESTRICT): unlink before deleting.
    session.execute(
        update(DoctorReview).where(DoctorReview.consultation_id.in_(ids)).values(amends_id=None)
    )
    session.execute(delete(DoctorReview).where(DoctorReview.consultation_id.in_(ids)))
    # Report files, messages, suggestions and jobs cascade; stored files are pruned by the
    # worker once no row references them.
    session.execute(delete(Consultation).where(Consultation.id.in_(ids)))
    session.expire_all()


def _retain_until(session: Session, patient_id: uuid.UUID, settings: Settings) -> datetime | None:
    last_signed = session.scalar(
        select(func.max(DoctorReview.signed_at))
        .join(Consultation, Consultation.id == DoctorReview.consultation_id)
        .where(Consultation.patient_id == patient_id)
    )
    if last_signed is None:
        return None
    return _add_years(last_signed, settings.record_retention_years)


def _add_years(value: datetime, years: int) -> datetime:
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value.replace(year=value.year + years, day=28)


def erase_account(
    session: Session, *, actor: User, password: str, settings: Settings | None = None
) -> ErasureResult:
    """Delete the patient's account: identifiers removed, sessions ended, unsigned
    consultations deleted, signed ones kept without identifiers until the retention period
    ends. Needs the current password; a wrong one changes nothing (audited)."""
    settings = settings or get_settings()
    if actor.role is not Role.patient:
        raise Forbidden(_("Staff accounts are closed by an administrator."))
    if not password or not passwords.verify_password(actor.password_hash, password):
        audit_service.record_own(
            session,
            user=actor,
            action="records.account.erase",
            outcome=Outcome.failure,
            patient_id=actor.id,
            details={"reason": "reauthentication_failed"},
        )
        raise ValidationFailed({"password": _("Your password is incorrect. Nothing was deleted.")})
    patient_id = actor.id
    email_key = actor.email.strip().lower()
    retained = _signed_consultation_ids(session, patient_id)
    unsigned = list(
        session.scalars(
            select(Consultation.id).where(
                Consultation.patient_id == patient_id, Consultation.id.not_in(retained)
            )
        )
    )
    _delete_consultations(session, unsigned)
    # Report file names are the patient's own words; the files themselves stay with the record.
    for report_row in session.scalars(
        select(ReportFile)
        .join(Consultation, Consultation.id == ReportFile.consultation_id)
        .where(Consultation.patient_id == patient_id)
        .order_by(ReportFile.created_at)
    ):
        extension = report_row.original_name.rpartition(".")
        suffix = f".{extension[2][:10]}" if extension[1] else ""
        report_row.original_name = f"report-{str(report_row.id)[:8]}{suffix}"
    session.execute(delete(PatientProfile).where(PatientProfile.user_id == patient_id))
    session.execute(delete(PasswordToken).where(PasswordToken.user_id == patient_id))
    session.execute(delete(LoginFailure).where(func.lower(LoginFailure.email) == email_key))
    accounts_service.end_all_sessions(session, user_id=patient_id)
    user = session.get(User, patient_id)
    assert user is not None
    user.email = f"erased-{patient_id.hex}@{ERASED_EMAIL_DOMAIN}"
    user.full_name = ""
    user.password_hash = "!erased"  # no password verifies against this
    user.is_active = False
    user.must_change_password = False
    user.last_login_at = None
    user.erased_at = utcnow()
    session.flush()
    retain_until = _retain_until(session, patient_id, settings)
    audit_service.record_own(
        session,
        user=user,
        action="records.account.erase",
        patient_id=patient_id,
        details={
            "deleted_consultations": len(unsigned),
            "retained_consultations": len(retained),
            "retain_until": retain_until.isoformat() if retain_until else None,
        },
    )
    if not retained:
        _purge_user(session, patient_id)
    return ErasureResult(
        deleted_consultations=len(unsigned),
        retained_consultations=len(retained),
        retain_until=retain_until,
    )


def _purge_user(session: Session, patient_id: uuid.UUID) -> bool:
    """Delete an erased account row once nothing references it any more."""
    referenced = session.scalar(
        select(
            exists().where(Consultation.patient_id == patient_id)
            | exists().where(Message.sender_id == patient_id)
        )
    )
    if referenced:
        return False
    session.execute(delete(User).where(User.id == patient_id, User.erased_at.is_not(None)))
    session.expire_all()
    return True


def purge_expired_records(
    session: Session, *, settings: Settings | None = None, now: datetime | None = None
) -> int:
    """Delete erased patients' signed records whose retention period has ended, then the
    account rows left with nothing; returns how many consultations were purged (audited)."""
    settings = settings or get_settings()
    now = now or utcnow()
    cutoff = _add_years(now, -settings.record_retention_years)
    purged = 0
    erased = session.scalars(
        select(User.id)
        .where(User.erased_at.is_not(None))
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    for patient_id in erased:
        last_signed = session.scalar(
            select(func.max(DoctorReview.signed_at))
            .join(Consultation, Consultation.id == DoctorReview.consultation_id)
            .where(Consultation.patient_id == patient_id)
        )
        if last_signed is not None and last_signed > cutoff:
            continue
        ids = list(
            session.scalars(select(Consultation.id).where(Consultation.patient_id == patient_id))
        )
        _delete_consultations(session, ids)
        _purge_user(session, patient_id)
        purged += len(ids)
        audit_service.record(
            session,
            actor=None,
            action="records.retention.purge",
            record_type="user",
            record_id=patient_id,
            patient_id=patient_id,
            details={"consultations": len(ids), "retention_years": settings.record_retention_years},
        )
    if purged:
        log.info("purged %d consultations past their retention period", purged)
    return purged


def export_json(bundle: Bundle) -> str:
    """The bundle as FHIR JSON (omits empty elements, as FHIR requires)."""
    return bundle.model_dump_json()


def bundle_dict(bundle: Bundle) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(bundle.model_dump_json())
    return loaded
