"""Admin JSON API and the access matrix over every admin route, pages and API alike."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.accounts.models import Role
from medconsult.config import get_settings
from medconsult.main import create_app
from tests import factories


def _admin_routes() -> list[tuple[str, str]]:
    app: FastAPI = create_app(start_worker=False)
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path.startswith(("/admin", "/api/v1/admin")):
            found.extend((method, context.path) for method in sorted(route.methods))
    return found


ADMIN_ROUTES = _admin_routes()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


class TestAccessMatrix:
    def test_every_admin_area_is_swept(self) -> None:
        paths = {path for _, path in ADMIN_ROUTES}

        assert {"/admin/users", "/admin/audit", "/admin/models", "/admin/monitoring"} <= paths
        assert {"/api/v1/admin/users", "/api/v1/admin/models/activate"} <= paths

    @pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
    @pytest.mark.parametrize("role", [Role.patient, Role.doctor])
    def test_other_roles_are_refused(
        self, client: TestClient, session: Session, role: Role, method: str, path: str
    ) -> None:
        user = factories.create_user(session, role=role)
        token = factories.login(client, session, user)

        response = client.request(
            method, _concrete(path), headers={"X-CSRF-Token": token}, follow_redirects=False
        )

        assert response.status_code == 403, response.text

    @pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
    def test_anonymous_is_refused(self, client: TestClient, method: str, path: str) -> None:
        token = factories.csrf(client)

        response = client.request(
            method, _concrete(path), headers={"X-CSRF-Token": token}, follow_redirects=False
        )

        if method == "GET" and not path.startswith("/api/"):
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login")
        else:
            assert response.status_code == 401, response.text

    @pytest.mark.parametrize(
        ("method", "path"), [(m, p) for m, p in ADMIN_ROUTES if m == "GET" and "{" not in p]
    )
    def test_admin_is_served(
        self, client: TestClient, session: Session, method: str, path: str
    ) -> None:
        factories.login(client, session, factories.create_admin(session))

        response = client.get(path)

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in ADMIN_ROUTES if m != "GET"])
    def test_state_change_without_csrf_token_is_refused(
        self, client: TestClient, session: Session, method: str, path: str
    ) -> None:
        factories.login(client, session, factories.create_admin(session))

        response = client.request(method, _concrete(path), follow_redirects=False)

        assert response.status_code == 403
        assert "csrf" in response.text.lower() or "form has expired" in response.text


class TestUsersApi:
    def test_create_doctor_returns_a_set_password_link(
        self, client: TestClient, session: Session
    ) -> None:
        token = factories.login(client, session, factories.create_admin(session))

        response = client.post(
            "/api/v1/admin/users",
            json={"email": "api.doctor@example.org", "role": "doctor", "full_name": "Dr Api"},
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 201
        body = response.json()
        assert body["user"]["role"] == "doctor"
        assert "/set-password/" in body["set_password_url"]
        assert "password_hash" not in body["user"]

    def test_list_filters_by_role_and_status(self, client: TestClient, session: Session) -> None:
        factories.login(client, session, factories.create_admin(session))
        gone = factories.create_doctor(session, email="gone-doctor@example.org", active=False)

        response = client.get("/api/v1/admin/users", params={"role": "doctor", "active": "false"})

        assert response.status_code == 200
        assert str(gone.id) in {item["id"] for item in response.json()["items"]}
        assert all(item["role"] == "doctor" for item in response.json()["items"])
        assert all(not item["is_active"] for item in response.json()["items"])

    def test_demoting_the_last_admin_is_a_conflict(
        self, client: TestClient, session: Session
    ) -> None:
        for other in session.query(factories.User).filter_by(role=Role.admin):
            other.is_active = False
        admin = factories.create_admin(session)
        token = factories.login(client, session, admin)

        response = client.post(
            f"/api/v1/admin/users/{admin.id}/role",
            json={"role": "doctor"},
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"

    def test_deactivate_then_sessions_list_is_empty(
        self, client: TestClient, session: Session
    ) -> None:
        token = factories.login(client, session, factories.create_admin(session))
        doctor = factories.create_doctor(session)
        factories.login(TestClient(client.app), session, doctor)

        response = client.post(
            f"/api/v1/admin/users/{doctor.id}/deactivate", headers={"X-CSRF-Token": token}
        )
        sessions = client.get(f"/api/v1/admin/users/{doctor.id}/sessions")

        assert response.status_code == 200
        assert response.json()["is_active"] is False
        assert sessions.json() == []


class TestAuditApi:
    def test_invalid_filter_is_a_422_naming_the_field(
        self, client: TestClient, session: Session
    ) -> None:
        factories.login(client, session, factories.create_admin(session))

        response = client.get("/api/v1/admin/audit", params={"since": "2026-13-45"})

        assert response.status_code == 422
        assert response.json()["error"]["fields"] == {"since": "Enter a date as YYYY-MM-DD."}

    def test_verify_reports_an_intact_chain(self, client: TestClient, session: Session) -> None:
        token = factories.login(client, session, factories.create_admin(session))

        response = client.post("/api/v1/admin/audit/verify", headers={"X-CSRF-Token": token})

        assert response.status_code == 200
        assert response.json()["ok"] is True


class TestModelsApi:
    def test_activate_by_version_name(
        self,
        client: TestClient,
        session: Session,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(get_settings(), "artifacts_dir", tmp_path)
        factories.write_minimal_artifact(tmp_path, "v-api")
        token = factories.login(client, session, factories.create_admin(session))

        response = client.post(
            "/api/v1/admin/models/activate",
            json={"version": "v-api"},
            headers={"X-CSRF-Token": token},
        )
        listing = client.get("/api/v1/admin/models")

        assert response.status_code == 200
        assert response.json()["is_active"] is True
        assert [m["version"] for m in listing.json() if m["is_active"]] == ["v-api"]

    def test_reanalyse_open_consultations(self, client: TestClient, session: Session) -> None:
        token = factories.login(client, session, factories.create_admin(session))

        response = client.post("/api/v1/admin/models/reanalyse", headers={"X-CSRF-Token": token})

        assert response.status_code == 200
        assert response.json()["queued"] >= 0

    def test_unknown_version_is_not_found(self, client: TestClient, session: Session) -> None:
        token = factories.login(client, session, factories.create_admin(session))

        response = client.post(
            "/api/v1/admin/models/activate",
            json={"version": "no-such-version"},
            headers={"X-CSRF-Token": token},
        )

        assert response.status_code == 404
