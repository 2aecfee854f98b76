from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role, User
from medconsult.auth import session_cookie_name
from medconsult.config import get_settings
from tests.factories import DEFAULT_PASSWORD, create_admin, create_patient, csrf, login

COOKIE = session_cookie_name(get_settings())


def _form_token(client: TestClient, path: str) -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


class TestLoginPage:
    def test_login_sets_httponly_samesite_cookie(
        self, client: TestClient, session: Session
    ) -> None:
        user = create_patient(session)
        token = _form_token(client, "/login")

        response = client.post(
            "/login",
            data={"csrf_token": token, "email": user.email, "password": DEFAULT_PASSWORD},
            follow_redirects=False,
        )

        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert COOKIE in cookie
        assert "HttpOnly" in cookie
        # Outside development (the suite runs as "testing"): Secure, with the __Host- prefix.
        assert "Secure" in cookie
        assert cookie.startswith("__Host-medconsult_session=")
        assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()

    def test_wrong_password_generic_message(self, client: TestClient, session: Session) -> None:
        user = create_patient(session)
        token = _form_token(client, "/login")

        wrong = client.post(
            "/login", data={"csrf_token": token, "email": user.email, "password": "nope nope"}
        )
        unknown = client.post(
            "/login", data={"csrf_token": token, "email": "ghost@example.org", "password": "nope"}
        )

        assert wrong.status_code == unknown.status_code == 401
        assert "Incorrect email or password." in wrong.text
        assert "Incorrect email or password." in unknown.text

    def test_eleventh_failure_gets_429_and_right_password_still_refused(
        self, client: TestClient, session: Session
    ) -> None:
        user = create_patient(session)
        token = _form_token(client, "/login")
        for _ in range(get_settings().login_max_failures):
            client.post("/login", data={"csrf_token": token, "email": user.email, "password": "x"})

        eleventh = client.post(
            "/login", data={"csrf_token": token, "email": user.email, "password": "x"}
        )
        correct = client.post(
            "/login", data={"csrf_token": token, "email": user.email, "password": DEFAULT_PASSWORD}
        )

        assert eleventh.status_code == 429
        assert "Too many failed sign-in attempts" in eleventh.text
        assert correct.status_code == 429
        assert COOKIE not in correct.headers.get("set-cookie", "")


class TestRegisterPage:
    def test_register_creates_patient_and_signs_in(
        self, client: TestClient, session: Session
    ) -> None:
        token = _form_token(client, "/register")

        response = client.post(
            "/register",
            data={
                "csrf_token": token,
                "email": "fresh@example.org",
                "password": "a long passphrase",
                "password_confirm": "a long passphrase",
                "full_name": "Fresh Person",
            },
            follow_redirects=False,
        )

        assert response.status_code == 303
        user = session.scalars(select(User).where(User.email == "fresh@example.org")).one()
        assert user.role is Role.patient

    def test_each_invalid_field_has_a_message(self, client: TestClient) -> None:
        token = _form_token(client, "/register")

        response = client.post(
            "/register",
            data={
                "csrf_token": token,
                "email": "bad",
                "password": "short",
                "password_confirm": "x",
            },
        )

        assert response.status_code == 422
        assert 'id="email-error"' in response.text
        assert 'aria-invalid="true"' in response.text


class TestSessionLifecycle:
    def test_cookie_replayed_after_logout_is_refused(
        self, client: TestClient, session: Session
    ) -> None:
        user = create_patient(session)
        token = login(client, session, user)
        cookie = client.cookies.get(COOKIE)
        assert client.get("/profile", follow_redirects=False).status_code == 200

        client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        client.cookies.set(COOKIE, cookie)
        replay = client.get("/profile", follow_redirects=False)

        assert replay.status_code == 303
        assert replay.headers["location"].startswith("/login")

    def test_deactivated_users_session_ends(self, client: TestClient, session: Session) -> None:
        user = create_patient(session)
        admin = create_admin(session)
        login(client, session, user)
        assert client.get("/profile", follow_redirects=False).status_code == 200

        accounts_service.set_active(session, actor=admin, user_id=user.id, active=False)
        response = client.get("/api/v1/patients/me/profile")

        assert response.status_code == 401

    def test_idle_session_is_refused(self, client: TestClient, session: Session) -> None:
        from datetime import timedelta

        from sqlalchemy import update

        from medconsult.accounts.models import UserSession

        user = create_patient(session)
        login(client, session, user)
        idle = timedelta(minutes=get_settings().session_idle_minutes + 1)
        session.execute(update(UserSession).values(last_seen_at=UserSession.last_seen_at - idle))

        response = client.get("/api/v1/patients/me/profile")

        assert response.status_code == 401


class TestCSRF:
    def test_missing_token_is_403(self, client: TestClient, session: Session) -> None:
        login(client, session, create_patient(session))

        response = client.post("/profile", data={"full_name": "X"})

        assert response.status_code == 403

    def test_wrong_token_is_403(self, client: TestClient, session: Session) -> None:
        login(client, session, create_patient(session))

        response = client.post("/profile", data={"full_name": "X", "csrf_token": "0" * 64})

        assert response.status_code == 403

    def test_wrong_origin_is_403_even_with_token(
        self, client: TestClient, session: Session
    ) -> None:
        token = login(client, session, create_patient(session))

        response = client.post(
            "/profile",
            data={"full_name": "X", "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )

        assert response.status_code == 403

    def test_json_api_with_cookie_needs_header_token(
        self, client: TestClient, session: Session
    ) -> None:
        token = login(client, session, create_patient(session))
        body = {"full_name": "Changed"}

        without = client.put("/api/v1/patients/me/profile", json=body)
        with_token = client.put(
            "/api/v1/patients/me/profile", json=body, headers={"X-CSRF-Token": token}
        )

        assert without.status_code == 403
        assert with_token.status_code == 200

    def test_login_form_needs_token(self, client: TestClient) -> None:
        csrf(client)

        response = client.post("/login", data={"email": "a@example.org", "password": "x"})

        assert response.status_code == 403


class TestPasswordChangePage:
    @pytest.mark.parametrize("new_password", ["short", "password123"])
    def test_weak_password_refused_with_message(
        self, client: TestClient, session: Session, new_password: str
    ) -> None:
        token = login(client, session, create_patient(session))

        response = client.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current_password": DEFAULT_PASSWORD,
                "new_password": new_password,
                "new_password_confirm": new_password,
            },
        )

        assert response.status_code == 422
        assert 'id="new_password-error"' in response.text
