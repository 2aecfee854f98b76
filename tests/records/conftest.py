"""A patient with a full record: profile, a signed consultation with a report file, an AI
suggestion, messages both ways, and an unsigned consultation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.config import get_settings
from medconsult.consultations import files as report_files
from medconsult.consultations.models import Consultation, ConsultationStatus, Message, ReportFile
from medconsult.diagnosis.models import AISuggestion
from medconsult.patients.models import PatientProfile, Sex
from medconsult.review.models import DoctorReview
from tests import factories

PATIENT_EMAIL = "zelda.quistorp-7f3@example.org"
PATIENT_NAME = "Zelda Quistorp"
PATIENT_PHONE = "+44 7700 900123"
REPORT_NAME = "quistorp-bloodwork.txt"


@pytest.fixture(autouse=True)
def upload_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "uploads"
    monkeypatch.setenv("MEDCONSULT_UPLOAD_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.undo()
    get_settings.cache_clear()


@dataclass
class Record:
    patient: User
    doctor: User
    signed: Consultation
    unsigned: Consultation
    report: ReportFile
    suggestion: AISuggestion
    review: DoctorReview
    messages: list[Message]


@pytest.fixture
def record(session: Session, upload_dir: Path) -> Record:
    patient = factories.create_patient(session, full_name=PATIENT_NAME, email=PATIENT_EMAIL)
    profile = session.query(PatientProfile).filter_by(user_id=patient.id).one()
    profile.date_of_birth = date(1984, 5, 17)
    profile.sex = Sex.female
    profile.phone = PATIENT_PHONE
    profile.allergies = "Penicillin"
    doctor = factories.create_doctor(session, full_name="Dr Hana Okafor")
    signed = factories.create_consultation(
        session,
        patient=patient,
        chief_complaint="Fever and cough — naïve façade test",
        history="Fever, chills and a productive cough for five days; chest pain on breathing.",
        status=ConsultationStatus.in_review,
        doctor=doctor,
    )
    data = b"CRP 85 mg/L, white cells 14.2"
    key = report_files.new_storage_key()
    report_files.store_bytes(upload_dir, key, data)
    report = ReportFile(
        consultation_id=signed.id,
        original_name=REPORT_NAME,
        content_type="text/plain",
        size_bytes=len(data),
        sha256="0" * 64,
        storage_key=key,
        extracted_text=data.decode(),
    )
    session.add(report)
    suggestion = factories.create_suggestion(session, consultation=signed)
    review = factories.create_signed_review(
        session,
        consultation=signed,
        doctor=doctor,
        final_label="pneumonia",
        final_diagnosis="Pneumonia",
        suggestion=suggestion,
    )
    assert isinstance(review, DoctorReview)
    review.icd10_code = "J18.9"
    review.advice = "Amoxicillin alternative, rest and fluids; come back if breathless."
    messages = [
        Message(consultation_id=signed.id, sender_id=patient.id, body="Is it contagious?"),
        Message(consultation_id=signed.id, sender_id=doctor.id, body="For a few days, yes."),
    ]
    session.add_all(messages)
    unsigned = factories.create_consultation(
        session, patient=patient, chief_complaint="Itchy rash", history="A rash on both arms."
    )
    session.flush()
    session.refresh(signed)
    return Record(
        patient=patient,
        doctor=doctor,
        signed=signed,
        unsigned=unsigned,
        report=report,
        suggestion=suggestion,
        review=review,
        messages=messages,
    )
