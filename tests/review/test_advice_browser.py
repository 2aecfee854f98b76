"""A doctor in a real browser accepts a diagnosis, edits the offered advice draft and signs;
the patient then sees the signed advice, ending with the condition's safety-netting."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.consultations.models import Consultation
from medconsult.review import advice as advice_library
from medconsult.review import queries as review_queries
from medconsult.review.models import AdviceTemplateOutcome
from tests.browser import sign_in
from tests.factories import (
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
)

pytestmark = pytest.mark.browser

ADDED_LINE = "Please send us a message tomorrow to say how you are."


@pytest.fixture
def seeded(engine: Engine) -> Iterator[dict[str, Any]]:
    """A doctor, a patient and the patient's committed consultation with an AI suggestion."""
    tag = secrets.token_hex(4)
    with Session(engine) as session, session.begin():
        doctor = create_doctor(session, email=f"doctor-{tag}@example.org", full_name="Dr Advice")
        patient = create_patient(session, email=f"patient-{tag}@example.org")
        consultation = create_consultation(
            session, patient=patient, chief_complaint=f"Fever and cough {tag}"
        )
        create_suggestion(session, consultation=consultation, urgency="urgent")
        seeded = {
            "doctor_email": doctor.email,
            "patient_email": patient.email,
            "user_ids": [doctor.id, patient.id],
            "consultation_id": consultation.id,
        }
    yield seeded
    with Session(engine) as session, session.begin():
        session.execute(delete(Consultation).where(Consultation.id == seeded["consultation_id"]))
        session.execute(delete(User).where(User.id.in_(seeded["user_ids"])))


class TestAdviceDraftJourney:
    def test_accept_edit_sign_and_patient_sees_safety_netting(
        self, page: Any, browser: Any, live_server: str, seeded: dict[str, Any], engine: Engine
    ) -> None:
        entry = advice_library.entry_for("pneumonia")
        assert entry is not None
        consultation_id: uuid.UUID = seeded["consultation_id"]
        sign_in(page, seeded["doctor_email"])
        page.goto(f"/doctor/consultations/{consultation_id}")
        page.get_by_role("button", name="Claim this case").click()
        page.get_by_text("Choose a diagnosis above to be offered reviewed advice").wait_for()
        advice = page.get_by_label("Advice to the patient")
        assert advice.input_value() == ""

        page.get_by_label("Accept an AI suggestion").check()
        page.get_by_label("Accept Pneumonia (J18.9)").check()
        page.get_by_role("heading", name="Reviewed advice draft: Pneumonia").wait_for()

        assert page.get_by_role("link", name=entry.source_name).get_attribute("href") == (
            entry.source_url
        )
        draft = advice.input_value()
        assert entry.self_care[0] in draft
        assert entry.seek_help_now[0] in draft
        advice.fill(draft + "\n" + ADDED_LINE)
        page.get_by_role("button", name="Sign off").click()
        page.get_by_text("Your review is signed.").wait_for()
        conclusion = page.locator(".review-history li.current").inner_text()
        assert "Pneumonia (J18.9)" in conclusion
        assert "edited by the doctor" in conclusion

        patient_context = browser.new_context(base_url=live_server)
        patient_context.set_default_timeout(15_000)
        patient_page = patient_context.new_page()
        try:
            sign_in(patient_page, seeded["patient_email"])
            patient_page.goto(f"/consultations/{consultation_id}")
            section = patient_page.locator("section.conclusion")
            signed_advice = section.locator(".signed-advice").inner_text()
            safety = section.locator(".safety-netting").inner_text()
            section_text = section.inner_text()
        finally:
            patient_context.close()

        assert ADDED_LINE in signed_advice
        assert entry.self_care[0] in signed_advice
        assert safety.startswith("Seek help now if")
        for line in entry.seek_help_now:
            assert line in safety
        assert advice_library.EMERGENCY_WORDING in safety
        assert section_text.rstrip().endswith(advice_library.EMERGENCY_WORDING)
        with Session(engine) as session:
            review = review_queries.latest_review(session, consultation_id=consultation_id)
            assert review is not None
            assert review.advice_template_label == "pneumonia"
            assert review.advice_template_version == entry.version
            assert review.advice_template_outcome is AdviceTemplateOutcome.edited

    def test_searched_diagnosis_gets_its_draft_and_discard_is_recorded(
        self, page: Any, seeded: dict[str, Any], engine: Engine
    ) -> None:
        malaria = advice_library.entry_for("malaria")
        assert malaria is not None
        consultation_id: uuid.UUID = seeded["consultation_id"]
        sign_in(page, seeded["doctor_email"])
        page.goto(f"/doctor/consultations/{consultation_id}")
        page.get_by_role("button", name="Claim this case").click()
        advice = page.get_by_label("Advice to the patient")

        page.get_by_label("Choose another diagnosis").check()
        page.get_by_label("Search diagnoses by name or ICD-10 code").fill("malaria")
        page.get_by_label("Acne (L70.0)").wait_for(state="detached")
        page.get_by_label("Malaria (B54)").check()
        page.get_by_role("heading", name="Reviewed advice draft: Malaria").wait_for()
        assert malaria.next_steps[0] in advice.input_value()
        page.get_by_role("button", name="Discard the draft").click()
        page.get_by_text("Draft discarded: write your own advice").wait_for()
        assert advice.input_value() == ""
        advice.fill("Go to the hospital today for a blood test.")
        page.get_by_role("button", name="Sign off").click()
        page.get_by_text("Your review is signed.").wait_for()

        with Session(engine) as session:
            review = review_queries.latest_review(session, consultation_id=consultation_id)
            assert review is not None
            assert review.final_label == "malaria"
            assert review.advice == "Go to the hospital today for a blood test."
            assert review.advice_template_label == "malaria"
            assert review.advice_template_outcome is AdviceTemplateOutcome.discarded
