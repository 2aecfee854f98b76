"""Consultation service on PostgreSQL: submission, limits, idempotency, reports, messages."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.config import get_settings
from medconsult.consultations import service
from medconsult.consultations.files import UploadedFile
from medconsult.consultations.models import Consultation, ConsultationStatus, Message, ReportFile
from medconsult.consultations.schemas import ConsultationCreate
from medconsult.errors import Conflict, Forbidden, NotFound, ValidationFailed
from medconsult.jobs import queue
from medconsult.jobs.models import AnalysisJob, JobStatus
from tests import factories
from tests.consultations.samples import EXECUTABLE, PNG_1PX, broken_pdf, minimal_pdf


def _data(**overrides: object) -> ConsultationCreate:
    values: dict[str, object] = {
        "chief_complaint": "Cough and fever",
        "history": "Dry cough and fever for three days.",
        "past_history": "Appendectomy in 2010.",
        "current_medications": "None",
        "ai_consent": True,
        "idempotency_key": uuid.uuid4().hex,
    }
    values.update(overrides)
    return ConsultationCreate.model_validate(values)


def _count(session: Session, model: type, patient: User) -> int:
    """Rows of ``model`` belonging to ``patient`` (the live server commits other patients' rows)."""
    query = select(func.count()).select_from(model)
    if model is not Consultation:
        query = query.join(Consultation, Consultation.id == model.consultation_id)  # type: ignore[attr-defined]
    return int(session.scalar(query.where(Consultation.patient_id == patient.id)) or 0)


class TestSubmit:
    def test_creates_consultation_job_and_engine_job_in_one_transaction(
        self, session: Session
    ) -> None:
        patient = factories.create_patient(session)

        consultation, created = service.submit(session, actor=patient, data=_data(), uploads=[])

        assert created
        assert consultation.status is ConsultationStatus.submitted
        job = session.scalar(
            select(AnalysisJob).where(AnalysisJob.consultation_id == consultation.id)
        )
        assert job is not None
        assert job.status is JobStatus.queued
        engine = session.execute(
            text(
                "SELECT task_name, queue_name, status, args FROM procrastinate_jobs WHERE id = :id"
            ),
            {"id": job.engine_job_id},
        ).one()
        assert engine.task_name == queue.ANALYSE_TASK
        assert engine.queue_name == queue.ANALYSIS_QUEUE
        assert engine.status == "todo"
        assert engine.args == {"consultation_id": str(consultation.id)}

    def test_audits_creation_without_clinical_text(self, session: Session) -> None:
        patient = factories.create_patient(session)

        consultation, _ = service.submit(session, actor=patient, data=_data(), uploads=[])

        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "consultation.create",
                AuditEvent.record_id == str(consultation.id),
            )
        )
        assert event is not None
        assert event.patient_id == patient.id
        assert "Dry cough" not in str(event.details)

    def test_same_idempotency_key_returns_the_first_consultation(self, session: Session) -> None:
        patient = factories.create_patient(session)
        data = _data()
        first, _ = service.submit(session, actor=patient, data=data, uploads=[])

        second, created = service.submit(session, actor=patient, data=data, uploads=[])

        assert not created
        assert second.id == first.id
        assert _count(session, Consultation, patient) == 1
        assert _count(session, AnalysisJob, patient) == 1

    def test_doctor_cannot_submit(self, session: Session) -> None:
        doctor = factories.create_doctor(session)

        with pytest.raises(Forbidden):
            service.submit(session, actor=doctor, data=_data(), uploads=[])

    def test_missing_consent_is_refused_by_the_schema(self) -> None:
        with pytest.raises(ValueError, match="agree to the AI-assisted analysis"):
            _data(ai_consent=False)

    def test_text_over_the_limit_is_refused_and_nothing_is_written(self, session: Session) -> None:
        patient = factories.create_patient(session)
        too_long = "a" * (get_settings().max_text_chars + 1)

        with pytest.raises(ValidationFailed) as raised:
            service.submit(session, actor=patient, data=_data(history=too_long), uploads=[])

        assert "history" in raised.value.errors
        assert _count(session, Consultation, patient) == 0


class TestReports:
    def test_pdf_text_is_extracted_and_file_stored_under_a_random_key(
        self, session: Session, upload_dir: Path
    ) -> None:
        patient = factories.create_patient(session)
        upload = UploadedFile(filename="../../etc/passwd.pdf", data=minimal_pdf("CRP 85 mg/L"))

        consultation, _ = service.submit(session, actor=patient, data=_data(), uploads=[upload])

        report = consultation.reports[0]
        assert report.content_type == "application/pdf"
        assert "CRP 85 mg/L" in report.extracted_text
        assert not report.extraction_failed
        assert report.original_name == "passwd.pdf"
        assert "passwd" not in report.storage_key
        stored = list(upload_dir.rglob(report.storage_key))
        assert len(stored) == 1
        assert stored[0].read_bytes() == upload.data

    def test_unreadable_pdf_is_kept_and_flagged(self, session: Session) -> None:
        patient = factories.create_patient(session)

        consultation, _ = service.submit(
            session,
            actor=patient,
            data=_data(),
            uploads=[UploadedFile(filename="scan.pdf", data=broken_pdf())],
        )

        report = consultation.reports[0]
        assert report.extraction_failed
        assert report.extracted_text == ""

    def test_image_is_stored_without_text(self, session: Session) -> None:
        patient = factories.create_patient(session)

        consultation, _ = service.submit(
            session,
            actor=patient,
            data=_data(),
            uploads=[UploadedFile(filename="rash.png", data=PNG_1PX)],
        )

        assert consultation.reports[0].content_type == "image/png"
        assert consultation.reports[0].extracted_text == ""

    def test_content_decides_the_type_not_the_name(self, session: Session) -> None:
        patient = factories.create_patient(session)

        with pytest.raises(ValidationFailed) as raised:
            service.submit(
                session,
                actor=patient,
                data=_data(),
                uploads=[UploadedFile(filename="report.pdf", data=EXECUTABLE)],
            )

        assert "not a PDF" in raised.value.errors["reports"]
        assert _count(session, Consultation, patient) == 0

    def test_too_many_files_are_refused(self, session: Session) -> None:
        patient = factories.create_patient(session)
        limit = get_settings().max_files_per_consultation
        uploads = [UploadedFile(filename=f"{i}.txt", data=b"note") for i in range(limit + 1)]

        with pytest.raises(ValidationFailed, match="at most"):
            service.submit(session, actor=patient, data=_data(), uploads=uploads)

        assert _count(session, ReportFile, patient) == 0

    def test_file_over_the_size_limit_is_refused(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        patient = factories.create_patient(session)
        settings = get_settings().model_copy(update={"max_file_bytes": 1000})

        with pytest.raises(ValidationFailed, match="larger than"):
            service.submit(
                session,
                actor=patient,
                data=_data(),
                uploads=[UploadedFile(filename="big.txt", data=b"x" * 1001)],
                settings=settings,
            )

        assert _count(session, Consultation, patient) == 0

    def test_files_over_the_consultation_total_are_refused(self, session: Session) -> None:
        patient = factories.create_patient(session)
        settings = get_settings().model_copy(
            update={"max_file_bytes": 1000, "max_consultation_bytes": 1500}
        )
        uploads = [UploadedFile(filename=f"{i}.txt", data=b"x" * 800) for i in range(2)]

        with pytest.raises(ValidationFailed, match="together"):
            service.submit(session, actor=patient, data=_data(), uploads=uploads, settings=settings)

    def test_report_is_read_back_by_its_patient(self, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation, _ = service.submit(
            session,
            actor=patient,
            data=_data(),
            uploads=[UploadedFile(filename="note.txt", data=b"Blood pressure 120/80")],
        )

        report, data = service.get_report(
            session,
            actor=patient,
            consultation_id=consultation.id,
            report_id=consultation.reports[0].id,
        )

        assert report.content_type.startswith("text/plain")
        assert data == b"Blood pressure 120/80"

    def test_report_of_another_consultation_is_not_found(self, session: Session) -> None:
        patient = factories.create_patient(session)
        mine, _ = service.submit(session, actor=patient, data=_data(), uploads=[])
        other, _ = service.submit(
            session,
            actor=patient,
            data=_data(),
            uploads=[UploadedFile(filename="note.txt", data=b"text")],
        )

        with pytest.raises(NotFound):
            service.get_report(
                session, actor=patient, consultation_id=mine.id, report_id=other.reports[0].id
            )


class TestListOwn:
    def test_newest_first_and_only_own(self, session: Session) -> None:
        patient = factories.create_patient(session)
        other = factories.create_patient(session)
        older = factories.create_consultation(session, patient=patient, chief_complaint="older")
        newer = factories.create_consultation(session, patient=patient, chief_complaint="newer")
        factories.create_consultation(session, patient=other, chief_complaint="not mine")
        older.submitted_at = newer.submitted_at.replace(year=newer.submitted_at.year - 1)
        session.flush()

        rows = service.list_own(session, actor=patient)

        assert [c.chief_complaint for c in rows] == ["newer", "older"]


class TestDetail:
    def test_preliminary_suggestion_in_bands(self, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_suggestion(session, consultation=consultation, urgency="urgent")

        info = service.detail(session, actor=patient, consultation_id=consultation.id)

        assert info.suggestion is not None
        assert info.suggestion_preliminary
        assert info.suggestion.urgency == "urgent"
        assert [i.band for i in info.suggestion.items] == ["most_likely", "possible", "less_likely"]

    def test_job_and_current_suggestion_read_together(self, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        job = factories.create_analysis_job(session, consultation=consultation)
        replaced = factories.create_suggestion(session, consultation=consultation, urgency="urgent")
        replaced.is_current = False
        session.flush()
        factories.create_suggestion(session, consultation=consultation, urgency="routine")

        info = service.detail(session, actor=patient, consultation_id=consultation.id)

        assert info.job is not None
        assert info.job.id == job.id
        assert info.suggestion is not None
        assert info.suggestion.urgency == "routine"

    def test_suggestion_hidden_before_review_when_configured(self, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_suggestion(session, consultation=consultation)
        settings = get_settings().model_copy(update={"show_unreviewed_suggestions": False})

        info = service.detail(
            session, actor=patient, consultation_id=consultation.id, settings=settings
        )

        assert info.suggestion is None

    def test_waiting_for_model_is_reported(self, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_analysis_job(
            session, consultation=consultation, status=JobStatus.waiting_for_model
        )

        info = service.detail(session, actor=patient, consultation_id=consultation.id)

        assert info.awaiting_model
        assert not info.analysis_pending


class TestMessages:
    def test_patient_and_doctor_exchange_messages(self, session: Session) -> None:
        patient = factories.create_patient(session)
        doctor = factories.create_doctor(session)
        consultation = factories.create_consultation(session, patient=patient)

        service.post_message(session, actor=patient, consultation_id=consultation.id, body="Hi")
        service.post_message(session, actor=doctor, consultation_id=consultation.id, body="Hello")
        messages = service.list_messages(session, actor=patient, consultation_id=consultation.id)

        assert [(m.sender_id, m.body) for m in messages] == [
            (patient.id, "Hi"),
            (doctor.id, "Hello"),
        ]

    def test_other_patient_gets_not_found_and_denial_is_audited(self, session: Session) -> None:
        patient = factories.create_patient(session)
        stranger = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)

        with pytest.raises(NotFound):
            service.post_message(
                session, actor=stranger, consultation_id=consultation.id, body="Hi"
            )

        denied = session.scalar(
            select(AuditEvent).where(
                AuditEvent.actor_id == stranger.id, AuditEvent.outcome == Outcome.denied
            )
        )
        assert denied is not None
        assert _count(session, Message, patient) == 0

    def test_admin_is_forbidden(self, session: Session) -> None:
        admin = factories.create_admin(session)
        consultation = factories.create_consultation(
            session, patient=factories.create_patient(session)
        )

        with pytest.raises(Forbidden):
            service.list_messages(session, actor=admin, consultation_id=consultation.id)

    def test_empty_message_is_refused(self, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)

        with pytest.raises(ValidationFailed):
            service.post_message(session, actor=patient, consultation_id=consultation.id, body="  ")

    def test_closed_consultation_takes_no_messages(self, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(
            session, patient=patient, status=ConsultationStatus.closed
        )

        with pytest.raises(Conflict):
            service.post_message(session, actor=patient, consultation_id=consultation.id, body="Hi")


class TestPruneOrphanReports:
    def _prune(self, session: Session, upload_dir: Path, *, age: float = 7200.0) -> int:
        # ``now`` in the future: every file on disk is ``age`` seconds old.
        return service.prune_orphan_reports(
            session, upload_dir=upload_dir, grace_seconds=3600.0, now=time.time() + age
        )

    def test_file_of_a_rolled_back_submission_is_deleted(
        self, session: Session, upload_dir: Path
    ) -> None:
        patient = factories.create_patient(session)
        savepoint = session.begin_nested()
        consultation, _ = service.submit(
            session, actor=patient, data=_data(), uploads=[UploadedFile("scan.png", PNG_1PX)]
        )
        key = consultation.reports[0].storage_key
        savepoint.rollback()
        assert list(upload_dir.rglob(key))  # on disk, referenced by nothing

        assert self._prune(session, upload_dir) == 1

        assert not list(upload_dir.rglob(key))

    def test_referenced_files_are_kept(self, session: Session, upload_dir: Path) -> None:
        patient = factories.create_patient(session)
        consultation, _ = service.submit(
            session, actor=patient, data=_data(), uploads=[UploadedFile("scan.png", PNG_1PX)]
        )

        assert self._prune(session, upload_dir) == 0

        assert service.get_report(
            session,
            actor=patient,
            consultation_id=consultation.id,
            report_id=consultation.reports[0].id,
        )

    def test_recent_orphans_and_partial_writes_wait_for_the_grace_period(
        self, session: Session, upload_dir: Path
    ) -> None:
        folder = upload_dir / "ab"
        folder.mkdir(parents=True)
        (folder / "ab12").write_bytes(b"orphan")
        (folder / "ab34.part").write_bytes(b"partial")

        assert self._prune(session, upload_dir, age=60.0) == 0
        assert self._prune(session, upload_dir) == 2

        assert list(folder.iterdir()) == []

    def test_missing_upload_folder_is_nothing_to_prune(
        self, session: Session, tmp_path: Path
    ) -> None:
        assert self._prune(session, tmp_path / "none") == 0
