"""Admin console pages: forms, links, escaping, exports and charts."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.accounts.models import Role
from medconsult.config import get_settings
from tests import factories


@pytest.fixture
def admin_token(client: TestClient, session: Session) -> str:
    return factories.login(client, session, factories.create_admin(session))


class TestUsersPage:
    @pytest.mark.parametrize("htmx", [False, True])
    def test_search_finds_by_name(
        self, client: TestClient, session: Session, admin_token: str, htmx: bool
    ) -> None:
        factories.create_doctor(session, full_name="Dr Quentin Zebulon")
        headers = {"HX-Request": "true"} if htmx else {}

        response = client.get("/admin/users", params={"q": "zebulon"}, headers=headers)

        assert response.status_code == 200
        assert "Dr Quentin Zebulon" in response.text
        assert ("<html" in response.text) is not htmx

    def test_names_are_escaped(
        self, client: TestClient, session: Session, admin_token: str
    ) -> None:
        factories.create_patient(session, full_name="<script>alert(1)</script>")

        response = client.get("/admin/users", params={"q": "script"})

        assert "<script>alert(1)</script>" not in response.text
        assert "&lt;script&gt;" in response.text


class TestCreateStaffPage:
    def test_shows_a_one_time_link_that_sets_the_password(
        self, client: TestClient, session: Session, admin_token: str
    ) -> None:
        response = client.post(
            "/admin/users",
            data={
                "csrf_token": admin_token,
                "email": "page.doctor@example.org",
                "role": "doctor",
                "full_name": "Dr Page",
            },
        )
        link = response.text.split('id="set-password-link" readonly value="')[1].split('"')[0]
        path = urlsplit(link).path
        set_password = client.post(
            path,
            data={
                "csrf_token": admin_token,
                "new_password": "a fresh long password 7",
                "new_password_confirm": "a fresh long password 7",
            },
        )

        assert response.status_code == 201
        assert set_password.status_code == 200

    def test_invalid_email_is_shown_at_the_field(
        self, client: TestClient, session: Session, admin_token: str
    ) -> None:
        response = client.post(
            "/admin/users",
            data={"csrf_token": admin_token, "email": "not-an-email", "role": "doctor"},
        )

        assert response.status_code == 422
        assert 'id="email-error"' in response.text


class TestUserActions:
    def test_deactivate_redirects_with_a_message(
        self, client: TestClient, session: Session, admin_token: str
    ) -> None:
        doctor = factories.create_doctor(session)

        response = client.post(
            f"/admin/users/{doctor.id}/deactivate", data={"csrf_token": admin_token}
        )

        assert response.status_code == 200
        assert "sessions have ended" in response.text
        session.refresh(doctor)
        assert not doctor.is_active

    def test_last_admin_demotion_is_explained(self, client: TestClient, session: Session) -> None:
        for other in session.query(factories.User).filter_by(role=Role.admin):
            other.is_active = False
        admin = factories.create_admin(session)
        token = factories.login(client, session, admin)

        response = client.post(
            f"/admin/users/{admin.id}/role", data={"csrf_token": token, "role": "doctor"}
        )

        assert response.status_code == 409
        assert "last active administrator" in response.text
        assert admin.role is Role.admin

    def test_reset_password_shows_a_link(
        self, client: TestClient, session: Session, admin_token: str
    ) -> None:
        doctor = factories.create_doctor(session)

        response = client.post(
            f"/admin/users/{doctor.id}/reset-password", data={"csrf_token": admin_token}
        )

        assert response.status_code == 200
        assert "/set-password/" in response.text


class TestAuditPage:
    def test_filters_and_exports_csv(
        self, client: TestClient, session: Session, admin_token: str
    ) -> None:
        doctor = factories.create_doctor(session)
        client.post(f"/admin/users/{doctor.id}/deactivate", data={"csrf_token": admin_token})

        page = client.get("/admin/audit", params={"action": "account.deactivated"})
        export = client.get("/admin/audit/export.csv", params={"action": "account.deactivated"})

        assert str(doctor.id) in page.text
        assert export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert str(doctor.id) in {row["record_id"] for row in rows}

    def test_bad_date_is_shown_at_the_field(self, client: TestClient, admin_token: str) -> None:
        response = client.get("/admin/audit", params={"since": "31/12/2025"})

        assert response.status_code == 422
        assert 'id="since-error"' in response.text

    def test_verify_page(self, client: TestClient, admin_token: str) -> None:
        response = client.post("/admin/audit/verify", data={"csrf_token": admin_token})

        assert response.status_code == 200
        assert "intact" in response.text


class TestModelsPage:
    def test_card_is_escaped_and_activation_switches(
        self,
        client: TestClient,
        admin_token: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(get_settings(), "artifacts_dir", tmp_path)
        monkeypatch.setattr(get_settings(), "model_dir", None)
        factories.write_minimal_artifact(tmp_path, "v-page")

        card = client.get("/admin/models", params={"show": "v-page"})
        activated = client.post(
            "/admin/models/activate", data={"csrf_token": admin_token, "version": "v-page"}
        )

        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card.text
        assert "<script>alert(1)</script>" not in card.text
        assert activated.status_code == 200
        assert '<dd id="active-version">v-page</dd>' in activated.text
        assert "Re-analyse open consultations" in activated.text

        reanalysed = client.post("/admin/models/reanalyse", data={"csrf_token": admin_token})

        assert reanalysed.status_code == 200
        assert "are being analysed again with the active model" in reanalysed.text


class TestMonitoringPage:
    def test_draws_svg_charts_without_style_attributes(
        self, client: TestClient, session: Session, admin_token: str
    ) -> None:
        patient = factories.create_patient(session)
        consultation = factories.create_consultation(session, patient=patient)
        suggestion = factories.create_suggestion(session, consultation=consultation)
        factories.create_signed_review(
            session,
            consultation=consultation,
            doctor=factories.create_doctor(session),
            final_label="pneumonia",
            suggestion=suggestion,
        )

        response = client.get("/admin/monitoring", params={"days": 7})

        assert response.status_code == 200
        assert response.text.count("<svg") == 4
        assert "style=" not in response.text
        assert "Pneumonia" in response.text


class TestFeedbackPage:
    def test_export_downloads_csv(
        self, client: TestClient, session: Session, admin_token: str
    ) -> None:
        response = client.post("/admin/feedback/export", data={"csrf_token": admin_token})

        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith("attachment")
        assert response.text.splitlines()[0] == "label,text"

    def test_bad_date_is_explained(self, client: TestClient, admin_token: str) -> None:
        response = client.post(
            "/admin/feedback/export", data={"csrf_token": admin_token, "since": "soon"}
        )

        assert response.status_code == 422
        assert 'id="since-error"' in response.text
