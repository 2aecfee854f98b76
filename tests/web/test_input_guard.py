"""Control characters and lone surrogates are refused with 422 naming the field, everywhere."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medconsult.consultations.models import Consultation
from medconsult.web.input_guard import has_forbidden_characters
from tests.factories import create_admin, create_patient, csrf, login

BAD_VALUES = ["chest\x00pain", "bell\x07", "esc\x1b[31m", "form\x0cfeed", "lone \ud800 surrogate"]


class TestDetection:
    @pytest.mark.parametrize("value", BAD_VALUES)
    def test_refused(self, value: str) -> None:
        assert has_forbidden_characters(value)

    @pytest.mark.parametrize(
        "value", ["tab\there", "lines\nand\r\nreturns", "胸痛 emoji 🫀", "plain", ""]
    )
    def test_allowed(self, value: str) -> None:
        assert not has_forbidden_characters(value)


class TestForms:
    @pytest.mark.parametrize("field", ["chief_complaint", "history", "current_medications"])
    def test_consultation_field_with_nul_is_422_naming_it(
        self, client: TestClient, session: Session, field: str
    ) -> None:
        patient = create_patient(session)
        token = login(client, session, patient)
        form = {
            "csrf_token": token,
            "chief_complaint": "Cough",
            "history": "A dry cough for a week.",
            "ai_consent": "yes",
        }
        form[field] = "bad\x00value"

        response = client.post("/consultations/new", data=form, follow_redirects=False)

        stored = session.scalar(
            select(func.count())
            .select_from(Consultation)
            .where(Consultation.patient_id == patient.id)
        )
        assert response.status_code == 422
        assert field in response.text
        assert "control characters" in response.text
        assert stored == 0

    def test_login_email_with_nul_is_422(self, client: TestClient) -> None:
        token = csrf(client)

        response = client.post(
            "/login", data={"csrf_token": token, "email": "a\x00@b.example", "password": "x"}
        )

        assert response.status_code == 422
        assert "email" in response.text

    def test_register_name_with_nul_is_422(self, client: TestClient) -> None:
        token = csrf(client)

        response = client.post(
            "/register",
            data={
                "csrf_token": token,
                "email": "nul@example.org",
                "full_name": "Nul\x00Name",
                "password": "a long enough passphrase",
                "password_confirm": "a long enough passphrase",
            },
        )

        assert response.status_code == 422
        assert "full_name" in response.text

    def test_upload_file_name_with_control_character_is_422(
        self, client: TestClient, session: Session
    ) -> None:
        token = login(client, session, create_patient(session))

        response = client.post(
            "/consultations/new",
            data={"csrf_token": token, "chief_complaint": "Rash", "history": "Itchy rash."},
            files={"reports": ("report\x01.txt", b"Blood test normal", "text/plain")},
        )

        assert response.status_code == 422
        assert "reports" in response.text


class TestQueryAndPath:
    def test_admin_search_with_nul_is_422(self, client: TestClient, session: Session) -> None:
        login(client, session, create_admin(session))

        response = client.get("/admin/users", params={"q": "x\x00y"})

        assert response.status_code == 422
        assert "q" in response.text

    def test_audit_filter_with_nul_is_422_in_the_api(
        self, client: TestClient, session: Session
    ) -> None:
        login(client, session, create_admin(session))

        response = client.get("/api/v1/admin/audit", params={"action": "auth\x00"})

        assert response.status_code == 422
        assert response.json()["error"]["fields"] == {"action": response.json()["error"]["message"]}


class TestJson:
    def test_message_with_nul_is_422_naming_the_field(
        self, client: TestClient, session: Session
    ) -> None:
        login(client, session, create_patient(session))

        response = client.put(
            "/api/v1/patients/me/profile",
            json={"chronic_conditions": "asthma\u0000", "allergies": ""},
            headers={"X-CSRF-Token": csrf(client)},
        )

        assert response.status_code == 422
        assert "chronic_conditions" in response.json()["error"]["fields"]

    def test_lone_surrogate_in_json_is_422(self, client: TestClient, session: Session) -> None:
        login(client, session, create_patient(session))

        response = client.post(
            "/api/v1/consultations",
            content=b'{"chief_complaint": "pain \\ud800", "history": "x", "ai_consent": true}',
            headers={"Content-Type": "application/json", "X-CSRF-Token": csrf(client)},
        )

        assert response.status_code == 422
        assert "chief_complaint" in response.json()["error"]["fields"]

    def test_nested_field_is_named_by_its_path(self, client: TestClient, session: Session) -> None:
        login(client, session, create_patient(session))

        response = client.put(
            "/api/v1/patients/me/profile",
            json={"extra": [{"note": "\u0007"}]},
            headers={"X-CSRF-Token": csrf(client)},
        )

        assert response.status_code == 422
        assert "extra.0.note" in response.json()["error"]["fields"]
