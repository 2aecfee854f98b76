"""The printable consultation report: rendered on the server, its text read back with pypdf."""

from __future__ import annotations

import io
import uuid

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult import i18n
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.config import get_settings
from medconsult.interview import questionnaire
from medconsult.records import report, service
from tests import factories
from tests.records.conftest import PATIENT_NAME, REPORT_NAME, Record
from tests.records.test_fhir import add_interview


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    # fpdf2 writes CFF-based CJK fonts (Noto Sans CJK) with an embedded two-byte encoding CMap,
    # which pypdf reads one byte at a time: each CJK character comes back after a NUL. The
    # ToUnicode map in the file is right (other readers copy the text cleanly); drop the NULs.
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    return text.replace("\x00", "")


class TestReportContent:
    def test_signed_consultation(self, session: Session, record: Record) -> None:
        filename, data = service.consultation_report(
            session, actor=record.patient, consultation_id=record.signed.id
        )

        text = _text(data)
        assert data.startswith(b"%PDF")
        assert filename.endswith(".pdf")
        assert PATIENT_NAME in text
        assert "May 17, 1984" in text
        assert "Fever and cough — naïve façade test" in text  # Unicode survives the font
        assert "productive cough for five days" in text
        assert REPORT_NAME in text
        assert "Pneumonia (ICD-10 J18.9)" in text
        assert "rest and fluids" in text
        assert "Dr Hana Okafor" in text
        assert i18n.format_dt(record.review.signed_at) in text
        assert "AI suggestion (decision support only)" in text
        assert "decision support, not a diagnosis" in text
        assert record.suggestion.model_version in text

    def test_interview_answers_are_printed(self, session: Session, record: Record) -> None:
        add_interview(session, record.signed)

        _name, data = service.consultation_report(
            session, actor=record.patient, consultation_id=record.signed.id
        )

        text = _text(data)
        assert "Intake interview" in text
        assert " ".join(questionnaire.texts().question_text("E_53").split()) in text

    def test_text_beyond_latin_1(self, session: Session, record: Record) -> None:
        record.unsigned.chief_complaint = "Кашель и жар — βήχας"
        session.flush()

        _name, data = service.consultation_report(
            session, actor=record.patient, consultation_id=record.unsigned.id
        )

        assert "Кашель и жар — βήχας" in _text(data)

    def test_in_chinese_for_a_chinese_reader(self, session: Session, record: Record) -> None:
        if report.cjk_font() is None:
            pytest.fail("no CJK font: the project's set-up installs Debian fonts-noto-cjk")
        record.unsigned.chief_complaint = "胸口压榨感，呼吸困难"
        session.flush()
        token = i18n.current_locale.set("zh_CN")
        try:
            _name, data = service.consultation_report(
                session, actor=record.patient, consultation_id=record.unsigned.id
            )
        finally:
            i18n.current_locale.reset(token)

        text = _text(data)
        assert "问诊报告" in text  # the catalogue's heading
        assert "胸口压榨感" in text  # the patient's own Chinese words
        assert "尚无医生签署结论。" in text

    def test_without_a_cjk_font_the_report_still_prints(
        self,
        session: Session,
        record: Record,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        monkeypatch.setattr(report, "CJK_FONT_CANDIDATES", ())
        record.unsigned.chief_complaint = "Cough 咳嗽"
        session.flush()

        _name, data = service.consultation_report(
            session, actor=record.patient, consultation_id=record.unsigned.id
        )

        assert "Cough" in _text(data)
        assert "no CJK font found" in caplog.text

    def test_unsigned_consultation_has_no_conclusion(
        self, session: Session, record: Record
    ) -> None:
        _name, data = service.consultation_report(
            session, actor=record.doctor, consultation_id=record.unsigned.id
        )

        text = _text(data)
        assert "No doctor has signed a conclusion yet." in text
        assert "Itchy rash" in text

    def test_private_note_not_printed(self, session: Session, record: Record) -> None:
        record.review.private_note = "Private: suspect non-adherence"
        session.flush()

        _name, data = service.consultation_report(
            session, actor=record.doctor, consultation_id=record.signed.id
        )

        assert "non-adherence" not in _text(data)

    def test_patient_sees_no_unreviewed_ai_when_configured(
        self, session: Session, record: Record
    ) -> None:
        factories.create_suggestion(session, consultation=record.unsigned)
        settings = get_settings().model_copy(update={"show_unreviewed_suggestions": False})

        _name, data = service.consultation_report(
            session, actor=record.patient, consultation_id=record.unsigned.id, settings=settings
        )

        text = _text(data)
        assert "No AI suggestion is shown in this report." in text
        assert "Pneumonia" not in text


class TestReportDownload:
    def test_patient_downloads_own(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        factories.login(client, session, record.patient)

        response = client.get(f"/consultations/{record.signed.id}/report.pdf")

        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert "attachment" in response.headers["content-disposition"]
        assert PATIENT_NAME in _text(response.content)
        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "records.report.read")
            .order_by(AuditEvent.seq.desc())
        )
        assert event is not None
        assert event.actor_id == record.patient.id
        assert event.record_id == str(record.signed.id)

    def test_doctor_downloads_from_api(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        factories.login(client, session, record.doctor)

        response = client.get(f"/api/v1/consultations/{record.signed.id}/report.pdf")

        assert response.status_code == 200
        assert "Pneumonia" in _text(response.content)

    def test_foreign_consultation_is_404(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        other = factories.create_patient(session, full_name="Other Person")
        factories.login(client, session, other)

        response = client.get(f"/consultations/{record.signed.id}/report.pdf")

        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        denied = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "records.report.read", AuditEvent.actor_id == other.id
            )
        )
        assert denied is not None
        assert denied.outcome is Outcome.denied

    def test_unknown_consultation_is_404(self, client: TestClient, session: Session) -> None:
        factories.login(client, session, factories.create_doctor(session))

        response = client.get(f"/consultations/{uuid.uuid4()}/report.pdf")

        assert response.status_code == 404


class TestLinks:
    def test_patient_consultation_page_links_report_and_data(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        factories.login(client, session, record.patient)

        page = client.get(f"/consultations/{record.signed.id}").text

        assert f'href="/consultations/{record.signed.id}/report.pdf"' in page
        assert 'href="/my-data"' in page

    def test_profile_links_data_page(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        factories.login(client, session, record.patient)

        assert 'href="/my-data"' in client.get("/profile").text

    def test_doctor_case_page_links_report_and_fhir(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        factories.login(client, session, record.doctor)

        page = client.get(f"/doctor/consultations/{record.signed.id}").text

        assert f'href="/consultations/{record.signed.id}/report.pdf"' in page
        assert f'href="/api/v1/fhir/Patient/{record.patient.id}/$everything"' in page
