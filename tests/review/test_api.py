"""Doctor review JSON API: queue, claim, release, reviews, label search."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.consultations.models import ConsultationStatus
from medconsult.db import utcnow
from medconsult.review import queries as review_queries
from medconsult.review import service as review_service
from tests.factories import (
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
    login,
)


class TestQueueApi:
    def test_lists_mine_with_suggestion_and_counts(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session, full_name="Dr Api")
        login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session, full_name="P"))
        create_suggestion(session, consultation=consultation, urgency="urgent")
        consultation.submitted_at = utcnow() - timedelta(minutes=10)
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        response = client.get("/api/v1/doctor/queue", params={"mine": "true"})

        body = response.json()
        assert response.status_code == 200
        assert body["total"] == 1
        assert body["counts"]["in_review"] == 1
        assert (body["counts_capped"], body["total_capped"], body["has_next"]) == ([], False, False)
        item = body["items"][0]
        assert item["id"] == str(consultation.id)
        assert item["urgency"] == "urgent"
        assert item["doctor_name"] == "Dr Api"
        assert item["top_suggestion"]["label"] == "pneumonia"
        assert item["waiting_seconds"] >= 600

    def test_invalid_filters_are_422(self, client: TestClient, session: Session) -> None:
        login(client, session, create_doctor(session))

        responses = [
            client.get("/api/v1/doctor/queue", params={"status": "nope"}),
            client.get("/api/v1/doctor/queue", params={"urgency": "soon"}),
            client.get("/api/v1/doctor/queue", params={"per_page": "1000"}),
        ]

        assert [r.status_code for r in responses] == [422, 422, 422]


class TestClaimApi:
    def test_claim_then_conflict_then_release(self, client: TestClient, session: Session) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        url = f"/api/v1/consultations/{consultation.id}/claim"
        headers = {"X-CSRF-Token": token}

        claimed = client.post(url, headers=headers)
        again = client.post(url, headers=headers)
        released = client.delete(url, headers=headers)

        assert claimed.status_code == 200
        assert claimed.json()["status"] == "in_review"
        assert claimed.json()["doctor_id"] == str(doctor.id)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "conflict"
        assert released.status_code == 200
        assert released.json()["doctor_id"] is None

    def test_unknown_consultation_is_404(self, client: TestClient, session: Session) -> None:
        token = login(client, session, create_doctor(session))

        response = client.post(
            "/api/v1/consultations/00000000-0000-0000-0000-000000000000/claim",
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 404


class TestReviewsApi:
    def test_sign_amend_and_list(self, client: TestClient, session: Session) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        create_suggestion(session, consultation=consultation)
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)
        url = f"/api/v1/consultations/{consultation.id}/reviews"
        headers = {"X-CSRF-Token": token}

        signed = client.post(
            url,
            headers=headers,
            json={"decision": "accept", "accepted_label": "pneumonia", "advice": "Rest"},
        )
        amended = client.post(
            url,
            headers=headers,
            json={
                "decision": "modify",
                "diagnosis": "Acute bronchitis",
                "icd10_code": "J20.9",
                "amends_id": signed.json()["id"],
            },
        )
        listed = client.get(url)

        assert signed.status_code == 201
        assert signed.json()["icd10_code"] == "J18.9"
        assert amended.status_code == 201
        assert amended.json()["amends_id"] == signed.json()["id"]
        assert [r["id"] for r in listed.json()] == [amended.json()["id"], signed.json()["id"]]
        session.refresh(consultation)
        assert consultation.status is ConsultationStatus.concluded

    def test_validation_errors_name_the_fields(self, client: TestClient, session: Session) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        response = client.post(
            f"/api/v1/consultations/{consultation.id}/reviews",
            headers={"X-CSRF-Token": token},
            json={"decision": "modify", "diagnosis": "Flu", "icd10_code": "flu"},
        )

        assert response.status_code == 422
        assert "icd10_code" in response.json()["error"]["fields"]
        assert review_queries.latest_review(session, consultation_id=consultation.id) is None

    def test_unknown_fields_and_wrong_types_are_422(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)
        url = f"/api/v1/consultations/{consultation.id}/reviews"
        headers = {"X-CSRF-Token": token}

        extra = client.post(url, headers=headers, json={"decision": "modify", "doctor_id": "x"})
        wrong = client.post(url, headers=headers, json={"decision": 5, "advice": ["a"]})

        assert extra.status_code == 422
        assert wrong.status_code == 422


class TestLabelsApi:
    def test_search_by_icd10_code(self, client: TestClient, session: Session) -> None:
        login(client, session, create_doctor(session))

        response = client.get("/api/v1/doctor/labels", params={"q": "J18"})

        assert response.status_code == 200
        assert response.json()[0]["key"] == "pneumonia"
