"""In a real browser: a patient with chest pain takes the interview (htmx swaps each question in
place), and the doctor's case page lists the answers."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.consultations.models import Consultation
from tests.browser import sign_in
from tests.factories import create_consultation, create_doctor, create_patient

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(engine: Engine) -> Iterator[dict[str, Any]]:
    tag = secrets.token_hex(4)
    with Session(engine) as session, session.begin():
        doctor = create_doctor(session, email=f"doctor-{tag}@example.org")
        patient = create_patient(session, email=f"patient-{tag}@example.org")
        consultation = create_consultation(
            session,
            patient=patient,
            chief_complaint=f"Chest pain {tag}",
            history="A heavy pain in the middle of my chest that spreads to my left arm.",
        )
        seeded = {
            "doctor": doctor.email,
            "patient": patient.email,
            "consultation_id": consultation.id,
            "user_ids": [doctor.id, patient.id],
        }
    yield seeded
    with Session(engine) as session, session.begin():
        consultation_id: uuid.UUID = seeded["consultation_id"]
        session.execute(delete(Consultation).where(Consultation.id == consultation_id))
        session.execute(delete(User).where(User.id.in_(seeded["user_ids"])))


class TestChestPainInterview:
    def test_patient_answers_and_doctor_reads(self, page: Any, seeded: dict[str, Any]) -> None:
        consultation = seeded["consultation_id"]
        sign_in(page, seeded["patient"])
        page.goto(f"/consultations/{consultation}")
        page.get_by_role("button", name="Start the questions").click()
        page.wait_for_url(re.compile(r"/interview$"))

        # Next without a choice: the question comes back with a message (swapped in by htmx).
        page.get_by_role("button", name="Next").click()
        assert page.get_by_role("alert").inner_text().startswith("Please choose one answer")

        questions: list[str] = []
        for _ in range(25):
            if page.locator("#interview-done").count():
                break
            legend = page.locator("fieldset.question legend")
            question = legend.inner_text()
            questions.append(question)
            group = page.get_by_role("group", name=question)
            # Every choice is reachable by its label: "Yes" where offered, else the first one.
            if group.get_by_label("Yes", exact=True).count():
                group.get_by_label("Yes", exact=True).check()
            else:
                group.locator("input").first.check()
            page.get_by_role("button", name="Next").click()
            # htmx swaps the panel: wait until the question on screen has changed.
            page.wait_for_function(
                "q => !document.querySelector('fieldset.question legend')"
                " || document.querySelector('fieldset.question legend').innerText !== q",
                arg=question,
            )

        assert page.locator("#interview-done").is_visible()
        assert questions
        assert page.locator(".interview-answers dt").count() == len(questions)

        page.context.clear_cookies()
        sign_in(page, seeded["doctor"])
        page.goto(f"/doctor/consultations/{consultation}")

        summary = page.get_by_test_id("interview-summary")
        assert summary.get_by_role("heading", name="Questions about the symptoms").is_visible()
        answered = summary.locator(".interview-answers dt").all_inner_texts()
        assert answered == questions
        assert summary.locator(".interview-answers dd").first.inner_text() == "Yes"
        assert summary.locator("table.interview-differential tbody tr").count() >= 1
