from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import DEFAULT_PASSWORD, create_patient


class TestLoginApi:
    def test_login_returns_token_usable_as_bearer(
        self, client: TestClient, session: Session
    ) -> None:
        user = create_patient(session)

        response = client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
        )
        token = response.json()["token"]
        client.cookies.clear()
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 200
        assert set(response.json()["user"]) == {
            "id",
            "email",
            "full_name",
            "role",
            "is_active",
            "created_at",
            "last_login_at",
        }
        assert me.status_code == 200
        assert me.json()["user"]["email"] == user.email

    def test_response_never_exposes_password_hash(
        self, client: TestClient, session: Session
    ) -> None:
        user = create_patient(session)

        response = client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
        )

        assert "argon2" not in response.text
        assert "password" not in response.json()["user"]

    def test_bearer_logout_revokes_token(self, client: TestClient, session: Session) -> None:
        user = create_patient(session)
        token = client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
        ).json()["token"]
        client.cookies.clear()
        headers = {"Authorization": f"Bearer {token}"}

        client.post("/api/v1/auth/logout", headers=headers)
        me = client.get("/api/v1/auth/me", headers=headers)

        assert me.status_code == 401


class TestBadInput:
    def test_malformed_json_is_422_with_message(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_failed"

    def test_missing_field_names_the_field(self, client: TestClient) -> None:
        response = client.post("/api/v1/auth/login", json={"email": "a@example.org"})

        assert response.status_code == 422
        assert "password" in response.json()["error"]["fields"]

    def test_wrong_type_is_422_not_500(self, client: TestClient) -> None:
        response = client.post("/api/v1/auth/login", json={"email": ["x"], "password": 5})

        assert response.status_code == 422

    def test_oversized_body_is_413(self, client: TestClient) -> None:
        from medconsult.config import get_settings

        too_big = b"x" * (get_settings().max_request_bytes + 1)

        response = client.post(
            "/api/v1/auth/login", content=too_big, headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 413

    def test_unknown_route_is_404_json(self, client: TestClient) -> None:
        response = client.get("/api/v1/nothing-here")

        assert response.status_code == 404
        assert response.json()["error"]["message"]

    def test_non_uuid_id_is_422_not_500(self, client: TestClient, session: Session) -> None:
        from tests.factories import create_doctor, login

        login(client, session, create_doctor(session))

        response = client.get("/api/v1/patients/not-a-uuid/profile")

        assert response.status_code == 422


class TestHealth:
    def test_healthz(self, client: TestClient) -> None:
        assert client.get("/healthz").json() == {"status": "ok"}

    def test_readyz_reports_database_and_model(self, client: TestClient) -> None:
        response = client.get("/readyz")

        assert response.status_code == 200
        assert response.json()["database"] == "ok"
        assert "available" in response.json()["model"]
