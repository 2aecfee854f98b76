"""Patient consultation pages through the app: forms, errors, escaping, report files, polling."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.consultations.models import Consultation, ConsultationStatus
from medconsult.jobs.models import JobStatus
from tests import factories
from tests.consultations.samples import EXECUTABLE, PNG_1PX, minimal_pdf


def _new_form(client: TestClient) -> dict[str, str]:
    page = client.get("/consultations/new")
    assert page.status_code == 200
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert key
    assert token
    return {
        "csrf_token": token.group(1),
        "idempotency_key": key.group(1),
        "chief_complaint": "Headache",
        "history": "A dull headache for two days.",
        "past_history": "",
        "current_medications": "",
        "ai_consent": "on",
    }


def _count(session: Session, patient: User) -> int:
    """The patient's consultations (the live server commits other patients' rows)."""
    query = select(func.count()).select_from(Consultation)
    return int(session.scalar(query.where(Consultation.patient_id == patient.id)) or 0)


class TestNewConsultationForm:
    def test_a_field_over_the_form_parser_limit_gets_a_clear_413(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        factories.login(client, session, patient)
        form = _new_form(client)
        form["history"] = "x" * (1024 * 1024 + 1)

        response = client.post(
            "/consultations/new", data=form, files={"reports": ("a.txt", b"", "text/plain")}
        )

        assert response.status_code == 413
        assert "One of the text fields is far too long" in response.text
        assert "20000 characters" in response.text
        assert _count(session, patient) == 0

    def test_every_field_has_a_label(self, client: TestClient, session: Session) -> None:
        factories.login(client, session, factories.create_patient(session))

        page = client.get("/consultations/new")

        for field in (
            "chief_complaint",
            "history",
            "past_history",
            "current_medications",
            "reports",
            "ai_consent",
        ):
            assert f'for="{field}"' in page.text
            assert f'id="{field}"' in page.text

    def test_submit_redirects_to_the_consultation(
        self, client: TestClient, session: Session
    ) -> None:
        factories.login(client, session, factories.create_patient(session))
        form = _new_form(client)

        response = client.post(
            "/consultations/new",
            data=form,
            files=[
                ("reports", ("lab.pdf", minimal_pdf("Haemoglobin 13.5 g/dL"), "application/pdf"))
            ],
            follow_redirects=False,
        )

        assert response.status_code == 303
        page = client.get(response.headers["location"])
        assert "Haemoglobin 13.5 g/dL" in page.text
        assert "being analysed" in page.text
        assert 'hx-get="/consultations/' in page.text

    def test_double_submit_creates_one_consultation(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        factories.login(client, session, patient)
        form = _new_form(client)

        first = client.post("/consultations/new", data=form, follow_redirects=False)
        second = client.post("/consultations/new", data=form, follow_redirects=False)

        assert first.headers["location"] == second.headers["location"]
        assert _count(session, patient) == 1

    def test_missing_consent_shows_a_message_and_creates_nothing(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        factories.login(client, session, patient)
        form = _new_form(client)
        del form["ai_consent"]

        response = client.post("/consultations/new", data=form)

        assert response.status_code == 422
        assert "agree to the AI-assisted analysis" in response.text
        assert "A dull headache for two days." in response.text
        assert _count(session, patient) == 0

    def test_file_of_a_forbidden_type_shows_a_message(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        factories.login(client, session, patient)

        response = client.post(
            "/consultations/new",
            data=_new_form(client),
            files=[("reports", ("scan.pdf", EXECUTABLE, "application/pdf"))],
        )

        assert response.status_code == 422
        assert "is not a PDF, a plain text file" in response.text
        assert _count(session, patient) == 0

    def test_script_in_history_is_shown_as_text(self, client: TestClient, session: Session) -> None:
        factories.login(client, session, factories.create_patient(session))
        form = _new_form(client) | {"history": "<script>alert('x')</script> fever"}

        response = client.post("/consultations/new", data=form)

        assert response.status_code == 200
        assert "<script>alert" not in response.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; fever" in response.text

    def test_doctor_cannot_open_the_form(self, client: TestClient, session: Session) -> None:
        factories.login(client, session, factories.create_doctor(session))

        response = client.get("/consultations/new")

        assert response.status_code == 403


class TestMyConsultations:
    def test_lists_own_consultations(self, client: TestClient, session: Session) -> None:
        patient = factories.create_patient(session)
        factories.create_consultation(session, patient=patient, chief_complaint="Sore throat")
        factories.create_consultation(
            session, patient=factories.create_patient(session), chief_complaint="Back pain"
        )
        factories.login(client, session, patient)

        page = client.get("/consultations")

        assert "Sore throat" in page.text
        assert "Back pain" not in page.text


class TestConsultationPage:
    def test_emergency_banner_with_red_flag_reason(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_suggestion(
            session,
            consultation=consultation,
            urgency="emergency",
            red_flags=[
                {
                    "rule_id": "chest_pain",
                    "reason": "Chest pain with breathlessness",
                    "matched_text": "chest pain",
                    "start": 0,
                    "end": 10,
                }
            ],
        )
        factories.login(client, session, patient)

        page = client.get(f"/consultations/{consultation.id}")

        assert "Seek emergency care now." in page.text
        assert "Chest pain with breathlessness" in page.text
        assert "Most likely" in page.text
        assert "0.62" not in page.text
        assert "A doctor will review your consultation" in page.text

    @pytest.mark.parametrize("reason", ["out_of_distribution", "low_confidence"])
    def test_abstained_case_names_no_diagnosis(
        self, client: TestClient, session: Session, reason: str
    ) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_suggestion(
            session, consultation=consultation, abstained=True, abstain_reasons=[reason]
        )
        factories.login(client, session, patient)

        page = client.get(f"/consultations/{consultation.id}")
        api = client.get(f"/api/v1/consultations/{consultation.id}")

        assert (
            "The AI could not suggest a diagnosis for this; a doctor will review it." in page.text
        )
        assert "Pneumonia" not in page.text
        assert "Unlike the training data" not in page.text  # the reason is for the doctor
        assert api.json()["suggestion"]["abstained"] is True
        assert api.json()["suggestion"]["items"] == []

    def test_answered_case_shows_suggestions_without_the_abstention_note(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_suggestion(session, consultation=consultation)
        factories.login(client, session, patient)

        page = client.get(f"/consultations/{consultation.id}")

        assert "Pneumonia" in page.text
        assert "could not suggest a diagnosis" not in page.text

    def test_waiting_for_model_says_awaiting_analysis(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_analysis_job(
            session, consultation=consultation, status=JobStatus.waiting_for_model
        )
        factories.login(client, session, patient)

        page = client.get(f"/consultations/{consultation.id}")

        assert "Awaiting analysis" in page.text


class TestStatusPolling:
    def test_finished_analysis_asks_htmx_to_refresh(
        self, client: TestClient, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_analysis_job(session, consultation=consultation)
        factories.login(client, session, patient)

        response = client.get(
            f"/consultations/{consultation.id}/status", headers={"HX-Request": "true"}
        )

        assert response.headers.get("HX-Refresh") == "true"

    def test_pending_analysis_keeps_polling(self, client: TestClient, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(
            session, patient=patient, status=ConsultationStatus.analysing
        )
        factories.create_analysis_job(session, consultation=consultation, status=JobStatus.running)
        factories.login(client, session, patient)

        response = client.get(
            f"/consultations/{consultation.id}/status", headers={"HX-Request": "true"}
        )

        assert "HX-Refresh" not in response.headers
        assert 'hx-trigger="every 2s"' in response.text


class TestReportFile:
    @pytest.mark.parametrize(
        ("name", "data", "content_type", "disposition"),
        [
            ("rash.png", PNG_1PX, "image/png", "inline"),
            ("lab.pdf", minimal_pdf("ok"), "application/pdf", "attachment"),
        ],
    )
    def test_served_with_type_disposition_and_nosniff(
        self,
        client: TestClient,
        session: Session,
        name: str,
        data: bytes,
        content_type: str,
        disposition: str,
    ) -> None:
        patient = factories.create_patient(session)
        factories.login(client, session, patient)
        created = client.post(
            "/consultations/new",
            data=_new_form(client),
            files=[("reports", (name, data, "application/octet-stream"))],
            follow_redirects=False,
        )
        consultation = session.scalar(
            select(Consultation).where(Consultation.patient_id == patient.id)
        )
        assert created.status_code == 303
        assert consultation is not None
        report = consultation.reports[0]

        response = client.get(f"/consultations/{consultation.id}/reports/{report.id}")

        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"].startswith(content_type)
        assert response.headers["content-disposition"].startswith(
            f'{disposition}; filename="{name}"'
        )
        assert response.headers["x-content-type-options"] == "nosniff"


class TestMessagesPage:
    def test_patient_posts_a_message_with_htmx(self, client: TestClient, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        token = factories.login(client, session, patient)

        response = client.post(
            f"/consultations/{consultation.id}/messages",
            data={"body": "Is <b>this</b> serious?"},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )

        assert response.status_code == 200
        assert "Is &lt;b&gt;this&lt;/b&gt; serious?" in response.text
        assert 'id="messages"' in response.text

    def test_empty_message_shows_an_error(self, client: TestClient, session: Session) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        token = factories.login(client, session, patient)

        response = client.post(
            f"/consultations/{consultation.id}/messages",
            data={"body": " ", "csrf_token": token},
        )

        assert response.status_code == 422
        assert "Please write a message." in response.text
