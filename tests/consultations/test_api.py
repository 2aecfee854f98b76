"""Consultations JSON API: create (multipart), read in the patient's terms, messages."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medconsult.audit.models import AuditEvent
from medconsult.consultations.models import Consultation
from tests import factories
from tests.consultations.samples import minimal_pdf


def _form(token: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "chief_complaint": "Sore throat",
        "history": "Painful swallowing for two days.",
        "ai_consent": "true",
        "idempotency_key": "api-key-1",
    } | overrides


class TestCreate:
    def test_created_with_report_text_and_queued_analysis(
        self, client: TestClient, session: Session
    ) -> None:
        token = factories.login(client, session, factories.create_patient(session))

        response = client.post(
            "/api/v1/consultations",
            data=_form(token),
            files=[("reports", ("swab.pdf", minimal_pdf("Strep A positive"), "application/pdf"))],
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "submitted"
        assert body["analysis_status"] == "queued"
        assert body["suggestion"] is None
        assert "Strep A positive" in body["reports"][0]["extracted_text"]

    def test_answer_is_what_a_read_returns_with_one_audit_entry(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        token = factories.login(client, session, patient)

        created = client.post(
            "/api/v1/consultations",
            data=_form(token, history="Crushing chest pain spreading to my left arm, sweating."),
        ).json()

        events = session.scalars(
            select(AuditEvent.action).where(AuditEvent.record_id == created["id"])
        ).all()
        assert events == ["consultation.create"]
        read = client.get(f"/api/v1/consultations/{created['id']}").json()
        assert created == read
        assert created["advice"]["categories"]  # the emergency advice is in the first answer

    def test_replay_returns_the_same_consultation(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        token = factories.login(client, session, patient)
        first = client.post("/api/v1/consultations", data=_form(token))

        second = client.post("/api/v1/consultations", data=_form(token))

        assert second.status_code == 200
        assert second.json()["id"] == first.json()["id"]
        count = select(func.count()).where(Consultation.patient_id == patient.id)
        assert session.scalar(count) == 1

    def test_missing_consent_is_422_with_field(self, client: TestClient, session: Session) -> None:
        token = factories.login(client, session, factories.create_patient(session))

        response = client.post("/api/v1/consultations", data=_form(token, ai_consent="false"))

        assert response.status_code == 422
        assert response.json()["error"]["field"] == "ai_consent"

    def test_oversized_text_is_422(self, client: TestClient, session: Session) -> None:
        token = factories.login(client, session, factories.create_patient(session))

        response = client.post(
            "/api/v1/consultations", data=_form(token, past_history="x" * 20_001)
        )

        assert response.status_code == 422
        assert response.json()["error"]["field"] == "past_history"


class TestRead:
    def test_suggestion_in_bands_without_probabilities(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_suggestion(session, consultation=consultation)
        factories.login(client, session, patient)

        body = client.get(f"/api/v1/consultations/{consultation.id}").json()

        assert body["suggestion"]["preliminary"] is True
        assert [i["band"] for i in body["suggestion"]["items"]] == [
            "most_likely",
            "possible",
            "less_likely",
        ]
        assert "probability" not in str(body)

    def test_unknown_id_is_404(self, client: TestClient, session: Session) -> None:
        factories.login(client, session, factories.create_patient(session))

        response = client.get("/api/v1/consultations/00000000-0000-0000-0000-000000000000")

        assert response.status_code == 404


class TestMessages:
    def test_post_and_list(self, client: TestClient, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        token = factories.login(client, session, patient)

        posted = client.post(
            f"/api/v1/consultations/{consultation.id}/messages",
            json={"body": "Thank you"},
            headers={"X-CSRF-Token": token},
        )
        listed = client.get(f"/api/v1/consultations/{consultation.id}/messages")

        assert posted.status_code == 201
        assert [m["body"] for m in listed.json()] == ["Thank you"]
        assert listed.json()[0]["sender_role"] == "patient"

    def test_too_long_message_is_422(self, client: TestClient, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        token = factories.login(client, session, patient)

        response = client.post(
            f"/api/v1/consultations/{consultation.id}/messages",
            json={"body": "x" * 5001},
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 422
