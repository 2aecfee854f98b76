"""Doctor pages: queue (full page and htmx fragment), case page, claim, sign-off, amendment."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.audit.models import AuditEvent
from medconsult.consultations import service as consultations_service
from medconsult.consultations.models import ConsultationStatus
from medconsult.db import utcnow
from medconsult.jobs.models import JobStatus
from medconsult.patients import service as patients_service
from medconsult.review import cases as review_cases
from medconsult.review import queries as review_queries
from medconsult.review import service as review_service
from medconsult.review.models import Decision
from medconsult.review.schemas import ReviewCreate
from tests.factories import (
    create_analysis_job,
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
    login,
)

HTMX = {"HX-Request": "true"}


@pytest.fixture(params=["full", "fragment"])
def queue_headers(request: pytest.FixtureRequest) -> dict[str, str]:
    return HTMX if request.param == "fragment" else {}


class TestQueuePage:
    def test_shows_row_details(
        self, client: TestClient, session: Session, queue_headers: dict[str, str]
    ) -> None:
        doctor = create_doctor(session, full_name="Dr Quinn")
        login(client, session, doctor)
        patient = create_patient(session, full_name="Zelda Queue")
        profile = patients_service.ensure_profile(session, user=patient)
        profile.date_of_birth = date(utcnow().year - 40, 1, 1)
        consultation = create_consultation(
            session, patient=patient, chief_complaint="<script>alert(1)</script> chest pain"
        )
        create_suggestion(session, consultation=consultation, urgency="urgent")
        consultation.submitted_at = utcnow() - timedelta(hours=3, minutes=5)
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        response = client.get("/doctor", headers=queue_headers)

        assert response.status_code == 200
        assert "Zelda Queue" in response.text
        assert "<td>40</td>" in response.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; chest pain" in response.text
        assert "<script>alert(1)</script>" not in response.text
        assert 'class="badge urgent"' in response.text
        assert "Pneumonia" in response.text
        assert "(62%)" in response.text
        assert "3 h 5 min" in response.text
        assert "In review" in response.text
        assert "Dr Quinn" in response.text

    def test_fragment_has_no_page_chrome(
        self, client: TestClient, session: Session, queue_headers: dict[str, str]
    ) -> None:
        login(client, session, create_doctor(session))

        response = client.get("/doctor", headers=queue_headers)

        is_fragment = queue_headers == HTMX
        assert ("<html" in response.text) is not is_fragment
        assert 'class="queue-counts"' in response.text
        assert ('hx-trigger="every 10s"' in response.text) is not is_fragment
        assert response.headers["vary"] == "HX-Request"

    def test_capped_counts_read_as_lower_bounds(
        self,
        client: TestClient,
        session: Session,
        queue_headers: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(review_cases, "QUEUE_COUNT_CAP", 1)
        monkeypatch.setattr(review_cases, "QUEUE_PAGE_SIZE", 1)
        doctor = create_doctor(session)
        login(client, session, doctor)
        for _ in range(3):
            consultation = create_consultation(session, patient=create_patient(session))
            create_suggestion(session, consultation=consultation)
            review_service.claim(session, actor=doctor, consultation_id=consultation.id)
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(decision=Decision.modify, label_key="malaria"),
            )

        response = client.get(
            "/doctor",
            params={"status": "concluded", "mine": "1"},
            headers=queue_headers,
        )

        assert response.status_code == 200
        assert "Concluded: 1+</span>" in response.text
        assert "Page 1 of 1+ (1+ consultations)" in response.text
        assert "Next page" in response.text

    def test_emergency_row_comes_first(
        self, client: TestClient, session: Session, queue_headers: dict[str, str]
    ) -> None:
        login(client, session, create_doctor(session))
        patient = create_patient(session)
        routine = create_consultation(session, patient=patient, chief_complaint="Routine rash")
        create_suggestion(session, consultation=routine, urgency="routine")
        routine.submitted_at = utcnow() - timedelta(days=2)
        emergency = create_consultation(session, patient=patient, chief_complaint="Crushing pain")
        create_suggestion(session, consultation=emergency, urgency="emergency")

        response = client.get("/doctor", headers=queue_headers)

        assert response.text.index("Crushing pain") < response.text.index("Routine rash")

    @pytest.mark.parametrize(
        ("job_status", "expected"),
        [
            (JobStatus.failed, "analysis failed"),
            (JobStatus.waiting_for_model, "awaiting analysis (no model)"),
            (None, "no AI analysis yet"),
        ],
    )
    def test_rows_without_suggestion_say_why(
        self,
        client: TestClient,
        session: Session,
        queue_headers: dict[str, str],
        job_status: JobStatus | None,
        expected: str,
    ) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        if job_status is not None:
            create_analysis_job(session, consultation=consultation, status=job_status)
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        response = client.get("/doctor?mine=1", headers=queue_headers)

        assert expected in response.text

    def test_mine_filter_hides_other_cases(
        self, client: TestClient, session: Session, queue_headers: dict[str, str]
    ) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)
        patient = create_patient(session)
        claimed = create_consultation(session, patient=patient, chief_complaint="Mine to review")
        review_service.claim(session, actor=doctor, consultation_id=claimed.id)
        create_consultation(session, patient=patient, chief_complaint="Someone else's")

        response = client.get("/doctor?mine=1", headers=queue_headers)

        assert "Mine to review" in response.text
        assert "Someone else&#39;s" not in response.text

    def test_pagination_keeps_filters(
        self, client: TestClient, session: Session, queue_headers: dict[str, str]
    ) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)
        patient = create_patient(session)
        for number in range(51):
            consultation = create_consultation(
                session, patient=patient, chief_complaint=f"Case number {number:02d}"
            )
            consultation.submitted_at = utcnow() - timedelta(minutes=100 - number)
            review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        first = client.get("/doctor?mine=1", headers=queue_headers)
        second = client.get("/doctor?mine=1&page=2", headers=queue_headers)

        assert "Case number 49" in first.text
        assert "Case number 50" not in first.text
        assert "page=2" in first.text
        assert "mine=1" in first.text
        assert "Case number 50" in second.text
        assert "Page 2 of 2 (51 consultations)" in second.text

    def test_unknown_filter_is_422_not_500(self, client: TestClient, session: Session) -> None:
        login(client, session, create_doctor(session))

        responses = [
            client.get("/doctor?status=bogus"),
            client.get("/doctor?urgency=bogus"),
            client.get("/doctor?page=0"),
        ]

        assert [r.status_code for r in responses] == [422, 422, 422]


class TestCasePage:
    def test_highlights_evidence_and_escapes_text(
        self, client: TestClient, session: Session
    ) -> None:
        login(client, session, create_doctor(session))
        consultation = create_consultation(session, patient=create_patient(session))
        text = "<b>fever</b> since Monday & dry cough"
        create_suggestion(
            session,
            consultation=consultation,
            analysed_text=text,
            evidence=[{"start": 3, "end": 8, "score": 0.9}, {"start": 28, "end": 37}],
        )

        response = client.get(f"/doctor/consultations/{consultation.id}")

        assert response.status_code == 200
        assert '&lt;b&gt;<mark class="evidence">fever</mark>&lt;/b&gt; since Monday &amp; ' in (
            response.text
        )
        assert '<mark class="evidence">dry cough</mark>' in response.text
        assert "<b>fever" not in response.text

    def test_shows_differential_model_version_and_red_flags(
        self, client: TestClient, session: Session
    ) -> None:
        login(client, session, create_doctor(session))
        consultation = create_consultation(session, patient=create_patient(session))
        create_suggestion(
            session,
            consultation=consultation,
            urgency="emergency",
            abstained=True,
            model_version="bert-2026-02-01",
            red_flags=[
                {"rule_id": "chest_pain", "reason": "Chest pain", "matched_text": "chest pain"}
            ],
        )

        response = client.get(f"/doctor/consultations/{consultation.id}")

        assert "bert-2026-02-01" in response.text
        assert "0.620" in response.text
        assert "J18.9" in response.text
        assert "The model abstained" in response.text
        assert "Chest pain" in response.text
        assert 'class="banner emergency"' in response.text
        assert "you make the diagnosis" in response.text

    def test_abstained_unlike_training_data_shows_the_reason_and_the_ranking(
        self, client: TestClient, session: Session
    ) -> None:
        login(client, session, create_doctor(session))
        consultation = create_consultation(session, patient=create_patient(session))
        create_suggestion(
            session,
            consultation=consultation,
            abstained=True,
            abstain_reasons=["out_of_distribution"],
            ood_score=0.61,
        )

        response = client.get(f"/doctor/consultations/{consultation.id}")

        assert "Unlike the training data" in response.text
        assert "Low confidence" not in response.text
        assert "Pneumonia" in response.text  # the ranking stays
        assert "0.620" in response.text
        assert "no check for cases unlike its training data" not in response.text

    def test_abstained_low_confidence_and_no_ood_check_are_stated(
        self, client: TestClient, session: Session
    ) -> None:
        login(client, session, create_doctor(session))
        consultation = create_consultation(session, patient=create_patient(session))
        create_suggestion(
            session,
            consultation=consultation,
            abstained=True,
            abstain_reasons=["low_confidence"],
            ood_score=None,
        )

        response = client.get(f"/doctor/consultations/{consultation.id}")

        assert "Low confidence" in response.text
        assert "Unlike the training data" not in response.text
        assert "no check for cases unlike its training data" in response.text

    def test_failed_analysis_is_stated(self, client: TestClient, session: Session) -> None:
        login(client, session, create_doctor(session))
        consultation = create_consultation(
            session, patient=create_patient(session), history="Plain history"
        )
        create_analysis_job(session, consultation=consultation, status=JobStatus.failed)

        response = client.get(f"/doctor/consultations/{consultation.id}")

        assert "The AI analysis failed" in response.text
        assert "Plain history" in response.text

    def test_shows_patient_summary_and_earlier_conclusions(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)
        patient = create_patient(session)
        profile = patients_service.ensure_profile(session, user=patient)
        profile.allergies = "Penicillin"
        earlier = create_consultation(session, patient=patient, chief_complaint="Old rash")
        review_service.claim(session, actor=doctor, consultation_id=earlier.id)
        review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=earlier.id,
            data=ReviewCreate(decision=Decision.modify, label_key="psoriasis"),
        )
        consultation = create_consultation(session, patient=patient)

        response = client.get(f"/doctor/consultations/{consultation.id}")

        assert "Penicillin" in response.text
        assert "Old rash" in response.text
        assert "Psoriasis (L40.9)" in response.text

    def test_shows_messages_escaped(self, client: TestClient, session: Session) -> None:
        login(client, session, create_doctor(session))
        patient = create_patient(session)
        consultation = create_consultation(session, patient=patient)
        consultations_service.post_message(
            session, actor=patient, consultation_id=consultation.id, body="<i>It got worse</i>"
        )

        response = client.get(f"/doctor/consultations/{consultation.id}")

        assert "&lt;i&gt;It got worse&lt;/i&gt;" in response.text
        assert f'action="/consultations/{consultation.id}/messages"' in response.text

    def test_read_is_audited(self, client: TestClient, session: Session) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))

        client.get(f"/doctor/consultations/{consultation.id}")

        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "consultation.read",
                AuditEvent.record_id == str(consultation.id),
            )
        )
        assert event is not None
        assert event.actor_id == doctor.id
        assert event.patient_id == consultation.patient_id


class TestClaimAndSignOff:
    def test_claim_then_sign_with_label_from_search(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        create_suggestion(session, consultation=consultation)

        claimed = client.post(
            f"/doctor/consultations/{consultation.id}/claim",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        signed = client.post(
            f"/doctor/consultations/{consultation.id}/review",
            data={
                "csrf_token": token,
                "decision": "modify",
                "label_key": "malaria",
                "advice": "<img src=x onerror=alert(1)> Rest",
                "private_note": "Check travel history",
            },
            follow_redirects=False,
        )
        page = client.get(signed.headers["location"])

        session.refresh(consultation)  # changed by the request's own session
        assert claimed.status_code == 303
        assert signed.status_code == 303
        assert consultation.status is ConsultationStatus.concluded
        assert "Your review is signed." in page.text
        assert "Malaria (B54)" in page.text
        assert "&lt;img src=x onerror=alert(1)&gt; Rest" in page.text
        assert "<img src=x" not in page.text

    def test_missing_diagnosis_rerenders_with_message(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/review",
            data={"csrf_token": token, "decision": "modify", "advice": "Keep <this>"},
        )

        assert response.status_code == 422
        assert 'id="label_key-error"' in response.text
        assert "Keep &lt;this&gt;" in response.text
        assert review_queries.latest_review(session, consultation_id=consultation.id) is None
        assert consultation.status is ConsultationStatus.in_review

    def test_bad_icd10_and_unknown_decision_are_422(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)
        url = f"/doctor/consultations/{consultation.id}/review"

        bad_code = client.post(
            url,
            data={"csrf_token": token, "decision": "modify", "diagnosis": "Flu", "icd10_code": "X"},
        )
        bad_decision = client.post(url, data={"csrf_token": token, "decision": "maybe"})

        assert bad_code.status_code == 422
        assert 'id="icd10_code-error"' in bad_code.text
        assert bad_decision.status_code == 422
        assert 'id="decision-error"' in bad_decision.text

    def test_oversized_note_rerenders_with_message(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/review",
            data={
                "csrf_token": token,
                "decision": "modify",
                "label_key": "malaria",
                "private_note": "x" * 20_001,
            },
        )

        assert response.status_code == 422
        assert 'id="private_note-error"' in response.text
        assert review_queries.latest_review(session, consultation_id=consultation.id) is None

    def test_unclaimed_case_review_is_409(self, client: TestClient, session: Session) -> None:
        token = login(client, session, create_doctor(session))
        consultation = create_consultation(session, patient=create_patient(session))

        response = client.post(
            f"/doctor/consultations/{consultation.id}/review",
            data={"csrf_token": token, "decision": "modify", "label_key": "malaria"},
        )

        assert response.status_code == 409
        assert "Claim this consultation" in response.text

    def test_amendment_shows_history(self, client: TestClient, session: Session) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        create_suggestion(session, consultation=consultation)
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)
        original = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(decision=Decision.accept, accepted_label="pneumonia"),
        )

        response = client.post(
            f"/doctor/consultations/{consultation.id}/review",
            data={
                "csrf_token": token,
                "decision": "modify",
                "diagnosis": "Acute bronchitis",
                "icd10_code": "J20.9",
                "amends_id": str(original.id),
            },
            follow_redirects=False,
        )
        page = client.get(f"/doctor/consultations/{consultation.id}")

        assert response.status_code == 303
        assert page.text.index("Acute bronchitis (J20.9)") < page.text.index("Pneumonia (J18.9)")
        assert "Earlier version" in page.text
        assert "Sign amendment" in page.text

    def test_release_returns_to_queue(self, client: TestClient, session: Session) -> None:
        doctor = create_doctor(session)
        token = login(client, session, doctor)
        consultation = create_consultation(session, patient=create_patient(session))
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        response = client.post(
            f"/doctor/consultations/{consultation.id}/release",
            data={"csrf_token": token},
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert response.headers["location"] == "/doctor"
        session.refresh(consultation)
        assert consultation.doctor_id is None


class TestLabelSearch:
    def test_fragment_lists_matching_labels_as_choices(
        self, client: TestClient, session: Session
    ) -> None:
        login(client, session, create_doctor(session))

        response = client.get("/doctor/labels?q=B54", headers=HTMX)

        assert response.status_code == 200
        assert 'name="label_key" value="malaria"' in response.text
        assert "Malaria (B54)" in response.text
        assert "Acne" not in response.text

    def test_no_match_says_so(self, client: TestClient, session: Session) -> None:
        login(client, session, create_doctor(session))

        response = client.get("/doctor/labels?q=zzzzzz", headers=HTMX)

        assert "No diagnosis in the list matches" in response.text


class TestCaseMessagesWithoutJavaScript:
    def test_message_form_returns_to_the_case_page(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        consultation = create_consultation(session, patient=create_patient(session))
        token = login(client, session, doctor)
        case_url = f"/doctor/consultations/{consultation.id}"

        page = client.get(case_url)
        sent = client.post(
            f"/consultations/{consultation.id}/messages",
            data={"csrf_token": token, "body": "Any fever today?", "next": f"{case_url}#messages"},
            follow_redirects=False,
        )

        assert "Messages with the patient" in page.text
        assert f'name="next" value="{case_url}#messages"' in page.text
        assert sent.status_code == 303
        assert sent.headers["location"].startswith(case_url)
