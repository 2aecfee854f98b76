"""CSRF tokens are bound to the session they were issued for and rotate at sign-in."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medconsult.accounts import service as accounts_service
from medconsult.auth import CSRF_COOKIE, session_cookie_name, signed_csrf_token
from medconsult.config import get_settings
from tests.factories import DEFAULT_PASSWORD, create_patient


def _session_cookie(session: Session, user: object) -> str:
    return accounts_service.start_session(session, user=user, settings=get_settings())  # type: ignore[arg-type]


class TestBoundToTheSession:
    def test_own_token_is_accepted(self, client: TestClient, session: Session) -> None:
        alice = _session_cookie(session, create_patient(session))
        client.cookies.set(session_cookie_name(get_settings()), alice)
        client.cookies.set(CSRF_COOKIE, "alice-csrf")

        response = client.post(
            "/profile",
            data={"csrf_token": signed_csrf_token("alice-csrf", alice), "allergies": "none"},
            follow_redirects=False,
        )

        assert response.status_code in (200, 303)

    def test_token_and_csrf_cookie_of_another_session_are_refused(
        self, client: TestClient, session: Session
    ) -> None:
        alice = _session_cookie(session, create_patient(session))
        bob = _session_cookie(session, create_patient(session, full_name="Bob"))
        bobs_token = signed_csrf_token("bob-csrf", bob)
        client.cookies.set(session_cookie_name(get_settings()), alice)
        client.cookies.set(CSRF_COOKIE, "bob-csrf")

        response = client.post(
            "/profile", data={"csrf_token": bobs_token, "allergies": "x"}, follow_redirects=False
        )

        assert response.status_code == 403
        assert "expired" in response.text

    def test_token_issued_before_sign_in_is_refused_after_it(
        self, client: TestClient, session: Session
    ) -> None:
        patient = create_patient(session)
        session.commit()
        login_page = client.get("/login")
        old_cookie = client.cookies.get(CSRF_COOKIE)
        assert old_cookie is not None
        anonymous_token = signed_csrf_token(old_cookie, None)
        assert anonymous_token in login_page.text

        signed_in = client.post(
            "/login",
            data={
                "csrf_token": anonymous_token,
                "email": patient.email,
                "password": DEFAULT_PASSWORD,
            },
            follow_redirects=False,
        )
        replayed = client.post(
            "/profile",
            data={"csrf_token": anonymous_token, "allergies": "x"},
            follow_redirects=False,
        )

        assert signed_in.status_code == 303
        assert client.cookies.get(CSRF_COOKIE) != old_cookie  # rotated at sign-in
        assert replayed.status_code == 403
