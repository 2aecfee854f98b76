"""A doctor in a real browser: sign in, emergency first in the queue, evidence highlighted,
claim, and sign off with another diagnosis found through the label search."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.consultations.models import Consultation
from medconsult.db import utcnow
from tests.factories import (
    DEFAULT_PASSWORD,
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
)

pytestmark = pytest.mark.browser

EMERGENCY_TEXT = "Sudden crushing chest pain with sweating and fever since an hour."


@pytest.fixture
def seeded(engine: Engine) -> Iterator[dict[str, Any]]:
    """A doctor and two committed consultations: an old routine one and a new emergency."""
    tag = secrets.token_hex(4)
    with Session(engine) as session, session.begin():
        doctor = create_doctor(session, email=f"doctor-{tag}@example.org", full_name="Dr Browser")
        patient = create_patient(session, email=f"patient-{tag}@example.org")
        routine = create_consultation(session, patient=patient, chief_complaint=f"Itchy rash {tag}")
        create_suggestion(session, consultation=routine, urgency="routine")
        routine.submitted_at = utcnow() - timedelta(days=3)
        emergency = create_consultation(
            session,
            patient=patient,
            chief_complaint=f"Chest pain {tag}",
            history=EMERGENCY_TEXT,
        )
        start = EMERGENCY_TEXT.index("crushing chest pain")
        create_suggestion(
            session,
            consultation=emergency,
            urgency="emergency",
            analysed_text=EMERGENCY_TEXT,
            evidence=[{"start": start, "end": start + len("crushing chest pain"), "score": 0.8}],
            red_flags=[{"rule_id": "chest_pain", "reason": "Chest pain", "matched_text": "chest"}],
        )
        seeded = {
            "email": doctor.email,
            "tag": tag,
            "user_ids": [doctor.id, patient.id],
            "consultation_ids": [routine.id, emergency.id],
        }
    yield seeded
    with Session(engine) as session, session.begin():
        ids: list[uuid.UUID] = seeded["consultation_ids"]
        session.execute(delete(Consultation).where(Consultation.id.in_(ids)))
        session.execute(delete(User).where(User.id.in_(seeded["user_ids"])))


class TestDoctorReviewJourney:
    def test_sign_in_claim_and_sign_off_with_searched_diagnosis(
        self, page: Any, seeded: dict[str, Any]
    ) -> None:
        tag = seeded["tag"]
        page.goto("/login")
        page.get_by_label("Email").fill(seeded["email"])
        page.get_by_label("Password").fill(DEFAULT_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/doctor$"))

        rows = page.locator("tr.queue-row")
        texts = rows.all_inner_texts()
        emergency_index = next(i for i, t in enumerate(texts) if f"Chest pain {tag}" in t)
        routine_index = next(i for i, t in enumerate(texts) if f"Itchy rash {tag}" in t)
        assert emergency_index < routine_index
        assert rows.first.locator(".badge.emergency").count() == 1

        page.get_by_role("link", name=f"Chest pain {tag}").click()
        page.wait_for_url(re.compile(r"/doctor/consultations/[0-9a-f-]{36}$"))
        assert page.locator("mark.evidence").first.inner_text() == "crushing chest pain"
        assert page.get_by_text("you make the diagnosis").is_visible()

        page.get_by_role("button", name="Claim this case").click()
        page.get_by_label("Choose another diagnosis").check()
        page.get_by_label("Search diagnoses by name or ICD-10 code").fill("malaria")
        # The htmx search replaces the full list with the matches only.
        page.get_by_label("Acne (L70.0)").wait_for(state="detached")
        page.get_by_label("Malaria (B54)").check()
        page.get_by_label("Advice to the patient").fill("Go to the emergency department now.")
        page.get_by_label("Private note (never shown to the patient)").fill("Travel history?")
        page.get_by_role("button", name="Sign off").click()

        page.get_by_text("Your review is signed.").wait_for()
        conclusion = page.locator(".review-history li.current")
        assert "Malaria (B54)" in conclusion.inner_text()
        assert "Another diagnosis chosen" in conclusion.inner_text()
        assert "Dr Browser" in conclusion.inner_text()
