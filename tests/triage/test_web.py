"""Red-flag advice on the patient's page and the flags on the doctor's, through the app."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.config import get_settings
from medconsult.consultations.models import Consultation
from tests import factories


def _submit(client: TestClient, *, complaint: str, history: str) -> str:
    page = client.get("/consultations/new")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert key
    assert token
    response = client.post(
        "/consultations/new",
        data={
            "csrf_token": token.group(1),
            "idempotency_key": key.group(1),
            "chief_complaint": complaint,
            "history": history,
            "past_history": "",
            "current_medications": "",
            "ai_consent": "on",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    return str(response.headers["location"])


class TestPatientBanner:
    def test_overdose_says_call_now_even_if_fine_with_crisis_line(
        self, client: TestClient, session: Session
    ) -> None:
        settings = get_settings()
        factories.login(client, session, factories.create_patient(session))

        location = _submit(
            client, complaint="Tablets", history="I took a whole packet of paracetamol."
        )
        page = client.get(location)

        assert f"Call {settings.emergency_number} now, even if you feel fine." in page.text
        assert settings.crisis_line in page.text
        assert "A possible overdose or poisoning" in page.text
        assert 'data-testid="red-flag-advice"' in page.text

    def test_stroke_gets_emergency_advice_for_its_category(
        self, client: TestClient, session: Session
    ) -> None:
        settings = get_settings()
        factories.login(client, session, factories.create_patient(session))

        location = _submit(
            client, complaint="Face", history="My face has dropped on one side since lunch."
        )
        page = client.get(location)

        assert f"Seek emergency care now: call {settings.emergency_number}." in page.text
        assert "Note the time the symptoms started" in page.text
        assert settings.crisis_line not in page.text

    def test_no_banner_without_a_flag(self, client: TestClient, session: Session) -> None:
        factories.login(client, session, factories.create_patient(session))

        location = _submit(client, complaint="Cough", history="A dry cough, no chest pain.")
        page = client.get(location)

        assert 'data-testid="red-flag-advice"' not in page.text


class TestDoctorSeesCategoryAndSentence:
    @pytest.mark.parametrize("htmx", [False, True])
    def test_queue_and_case_page(self, client: TestClient, session: Session, htmx: bool) -> None:
        patient = factories.create_patient(session)
        factories.login(client, session, patient)
        _submit(
            client,
            complaint="<b>Head</b>",
            history="The worst headache of my life came on suddenly. <script>x</script>",
        )
        consultation = session.scalar(
            select(Consultation).where(Consultation.patient_id == patient.id)
        )
        assert consultation is not None
        client.cookies.clear()
        factories.login(client, session, factories.create_doctor(session))

        headers = {"HX-Request": "true"} if htmx else {}
        queue = client.get("/doctor?status=all", headers=headers)
        case = client.get(f"/doctor/consultations/{consultation.id}")

        assert "A sudden, severe headache that needs checking at once" in queue.text
        assert "thunderclap_headache" in case.text
        assert "The worst headache of my life came on suddenly." in case.text
        assert "<script>x</script>" not in case.text


class TestApiAdvice:
    def test_created_consultation_carries_the_advice(
        self, client: TestClient, session: Session
    ) -> None:
        settings = get_settings()
        token = factories.login(client, session, factories.create_patient(session))

        response = client.post(
            "/api/v1/consultations",
            data={
                "csrf_token": token,
                "chief_complaint": "Thoughts",
                "history": "I keep thinking I want to kill myself.",
                "ai_consent": "true",
                "idempotency_key": "api-triage-1",
            },
        )

        assert response.status_code == 201, response.text
        advice = response.json()["advice"]
        assert advice["categories"] == ["suicidal"]
        assert settings.crisis_line in advice["crisis"]
        assert advice["title"] == f"Call {settings.emergency_number} now, even if you feel fine."

    def test_no_advice_without_a_flag(self, client: TestClient, session: Session) -> None:
        token = factories.login(client, session, factories.create_patient(session))

        response = client.post(
            "/api/v1/consultations",
            data={
                "csrf_token": token,
                "chief_complaint": "Sore throat",
                "history": "Painful swallowing for two days.",
                "ai_consent": "true",
                "idempotency_key": "api-triage-2",
            },
        )

        assert response.json()["advice"] is None
