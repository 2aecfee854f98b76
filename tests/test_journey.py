"""The whole consultation in real browsers: patient → AI analysis → doctor sign-off → patient.

A patient registers, fills in the profile and submits a consultation with a PDF report; the
live server's analysis worker (tiny test model) adds preliminary suggestions and the red-flag
urgency; a doctor signs in, finds the case at the top of the queue, sees the evidence words
highlighted, claims it and signs off with another diagnosis; the patient then sees the
doctor's conclusion, and never the private note.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from medconsult.consultations.models import Consultation, ConsultationStatus
from tests.consultations.samples import minimal_pdf
from tests.factories import DEFAULT_PASSWORD, create_doctor

pytestmark = pytest.mark.browser

PATIENT_PASSWORD = "a long and private passphrase"
HISTORY = "Crushing chest pain since this morning and shortness of breath, with fever and sweating."
PRIVATE_NOTE = "Ask about recent travel"


@pytest.fixture
def doctor_email(engine: Engine) -> str:
    """A committed doctor account, and a queue holding only what this journey submits."""
    email = f"doctor-{secrets.token_hex(5)}@example.org"
    with Session(engine) as session, session.begin():
        create_doctor(session, email=email, full_name="Dr Journey")
        # Other browser tests leave open consultations in this database: close them so that
        # "top of the queue" means what a clinic would see.
        session.execute(
            update(Consultation)
            .where(Consultation.status.not_in([ConsultationStatus.concluded]))
            .values(status=ConsultationStatus.closed)
        )
    return email


class TestConsultationJourney:
    def test_patient_submits_doctor_signs_patient_reads_conclusion(
        self, browser: Any, live_server: str, doctor_email: str
    ) -> None:
        patient_context = browser.new_context(base_url=live_server)
        doctor_context = browser.new_context(base_url=live_server)
        patient = patient_context.new_page()
        doctor = doctor_context.new_page()
        for tab in (patient, doctor):
            tab.set_default_timeout(20_000)

        # The patient registers, fills in the profile and submits with a PDF report.
        patient.goto("/register")
        patient.get_by_label("Full name").fill("Jamie Journey")
        patient.get_by_label("Email").fill(f"patient-{secrets.token_hex(5)}@example.org")
        patient.get_by_label("Password", exact=True).fill(PATIENT_PASSWORD)
        patient.get_by_label("Repeat password").fill(PATIENT_PASSWORD)
        patient.get_by_role("button", name="Create account").click()
        patient.wait_for_url(re.compile(r"/profile"))
        patient.get_by_label("Date of birth").fill("1975-09-12")
        patient.get_by_label("Sex").select_option("male")
        patient.get_by_label("Current medications").fill("Aspirin 75 mg")
        patient.get_by_role("button", name="Save profile").click()
        patient.get_by_text("Profile saved.").wait_for()
        patient.goto("/consultations/new")
        patient.get_by_label("What is the main problem?").fill("Chest pain and breathlessness")
        patient.get_by_label("Describe your symptoms").fill(HISTORY)
        patient.get_by_label("Reports (optional)").set_input_files(
            files=[
                {
                    "name": "ecg-report.pdf",
                    "mimeType": "application/pdf",
                    "buffer": minimal_pdf("ECG: ST elevation in leads II, III, aVF"),
                }
            ]
        )
        patient.get_by_label("I agree that an AI system").check()
        patient.get_by_role("button", name="Submit consultation").click()
        patient.wait_for_url(re.compile(r"/consultations/[0-9a-f-]{36}$"))
        consultation_url = patient.url
        assert patient.get_by_text("Seek emergency care now: call").is_visible()
        # The analysis then arrives; the tiny test model may abstain, and then the patient is
        # told so and sees no diagnosis.
        patient.locator("ol.suggestions li, #ai-abstained").first.wait_for(timeout=90_000)
        abstained = patient.locator("#ai-abstained").count() == 1
        assert patient.locator("ol.suggestions li").count() == (0 if abstained else 3)
        assert patient.get_by_text("have not yet been reviewed by a doctor").is_visible()

        # The doctor finds it first in the queue, with the evidence highlighted, and signs off.
        doctor.goto("/login")
        doctor.get_by_label("Email").fill(doctor_email)
        doctor.get_by_label("Password").fill(DEFAULT_PASSWORD)
        doctor.get_by_role("button", name="Sign in").click()
        doctor.wait_for_url(re.compile(r"/doctor$"))
        first_row = doctor.locator("tr.queue-row").first
        assert "Chest pain and breathlessness" in first_row.inner_text()
        assert first_row.locator(".badge.emergency").count() == 1
        doctor.get_by_role("link", name="Chest pain and breathlessness").click()
        doctor.wait_for_url(re.compile(r"/doctor/consultations/[0-9a-f-]{36}$"))
        highlighted = doctor.locator("mark.evidence").all_inner_texts()
        assert highlighted, "the case page highlights the model's evidence"
        assert all(word.strip() and word in doctor.content() for word in highlighted)
        assert doctor.get_by_text("ST elevation").first.is_visible()
        assert doctor.get_by_text("Aspirin 75 mg").first.is_visible()
        doctor.get_by_role("button", name="Claim this case").click()
        doctor.get_by_label("Choose another diagnosis").check()
        doctor.get_by_label("Diagnosis (free text)").fill("Acute inferior myocardial infarction")
        doctor.get_by_label("ICD-10 code", exact=True).fill("I21.1")
        doctor.get_by_label("Advice to the patient").fill("Go to the emergency department now.")
        doctor.get_by_label("Private note (never shown to the patient)").fill(PRIVATE_NOTE)
        doctor.get_by_role("button", name="Sign off").click()
        doctor.get_by_text("Your review is signed.").wait_for()

        # The patient sees the conclusion and whether the AI suggestion was followed.
        patient.goto(consultation_url)
        conclusion = patient.locator("section.conclusion")
        conclusion.wait_for()
        text = conclusion.inner_text()
        assert "Acute inferior myocardial infarction (I21.1)" in text
        assert "Go to the emergency department now." in text
        assert "Overridden: the doctor chose a different diagnosis" in text
        assert PRIVATE_NOTE not in patient.content()

        patient_context.close()
        doctor_context.close()
