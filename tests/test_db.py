"""The request's unit of work: committed before the response, an error when the commit fails,
and the writes that must outlive a rollback kept in a transaction of their own."""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from medconsult.accounts.models import LoginFailure, User
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.db import get_session, keep_on_rollback
from medconsult.main import create_app
from tests.factories import create_patient, csrf, login

PASSWORD = "a long enough passphrase 42"


def _register_form(token: str, email: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "email": email,
        "full_name": "Read After Write",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
    }


class TestCommitFailure:
    def test_a_commit_that_fails_is_an_error_and_nothing_is_saved(
        self, connection: Connection, session: Session
    ) -> None:
        failing = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

        @event.listens_for(failing, "before_commit")
        def fail_at_commit(app_session: Session) -> None:
            # A real database error at commit time (as a deferred constraint would raise).
            app_session.execute(text("SELECT 1 / 0"))

        email = f"commit-{uuid.uuid4().hex[:8]}@example.org"
        with TestClient(create_app(factory=failing), base_url="https://testserver") as client:
            token = csrf(client)
            response = client.post(
                "/register", data=_register_form(token, email), follow_redirects=False
            )

        assert response.status_code == 500
        assert "nothing was saved" in response.text
        assert "set-cookie" not in {k.lower() for k in response.headers if "session" in k}
        assert session.scalar(select(User).where(User.email == email)) is None


class TestKeptPastRollback:
    def test_a_durable_write_survives_the_rollback_of_its_request(
        self, session_maker: sessionmaker[Session], session: Session
    ) -> None:
        marker = uuid.uuid4().hex[:12]
        request = SimpleNamespace(
            app=SimpleNamespace(state=SimpleNamespace(session_factory=session_maker))
        )
        boundary = get_session(request)  # type: ignore[arg-type]
        request_session = next(boundary)
        keep_on_rollback(
            request_session, lambda s: s.add(LoginFailure(email=marker, client_address="t"))
        )
        request_session.add(LoginFailure(email=marker + "-lost", client_address="t"))
        request_session.flush()

        with pytest.raises(RuntimeError):
            boundary.throw(RuntimeError("the route failed"))

        kept = session.scalars(
            select(LoginFailure.email).where(LoginFailure.email.startswith(marker))
        ).all()
        assert kept == [marker]

    def test_failed_api_sign_in_is_counted_and_audited(
        self, client: TestClient, session: Session
    ) -> None:
        patient = create_patient(session)
        session.commit()

        responses = [
            client.post(
                "/api/v1/auth/login", json={"email": patient.email, "password": "wrong password"}
            ).status_code
            for _ in range(3)
        ]

        failures = session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.email == patient.email)
        )
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.actor_id == patient.id, AuditEvent.action == "auth.login_failed")
        )
        assert responses == [401, 401, 401]
        assert failures == 3
        assert audited == 3

    def test_failed_api_password_change_is_audited(
        self, client: TestClient, session: Session
    ) -> None:
        patient = create_patient(session)
        token = login(client, session, patient)
        session.commit()

        response = client.post(
            "/api/v1/auth/password",
            json={"current_password": "not my password", "new_password": "another passphrase 9"},
            headers={"X-CSRF-Token": token},
        )

        failed = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.actor_id == patient.id,
                AuditEvent.action == "account.password_change",
                AuditEvent.outcome == Outcome.failure,
            )
        )
        assert response.status_code == 422
        assert failed == 1


class _Browser:
    """Keeps cookies like a browser on localhost does: the server's cookies are Secure (the
    test settings), which browsers send to 127.0.0.1 and httpx's cookie jar would not."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.client.request(method, url, headers={"cookie": cookie}, **kwargs)  # type: ignore[arg-type]
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or "expires=thu, 01 jan 1970" in header.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response


@pytest.mark.slow
@pytest.mark.browser  # needs the live server
def test_read_after_write_300_registrations(live_server: str) -> None:
    """Each registration is followed at once by a signed-in page: the write must be visible."""
    failures = []
    with httpx.Client(base_url=live_server, follow_redirects=False, timeout=30) as client:
        for index in range(300):
            browser = _Browser(client)
            page = browser.request("GET", "/register")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            email = f"raw-{uuid.uuid4().hex[:10]}@example.org"
            registered = browser.request(
                "POST", "/register", data=_register_form(token.group(1), email)
            )
            profile = browser.request("GET", "/profile")
            if registered.status_code != 303 or profile.status_code != 200:
                failures.append((index, registered.status_code, profile.status_code))
    assert failures == []


class TestPoolExhausted:
    def test_no_connection_is_503_with_retry_after_and_recovers(self, database_url: str) -> None:
        from medconsult.db import make_engine, to_sqlalchemy_url

        engine = make_engine(
            to_sqlalchemy_url(database_url), pool_size=1, max_overflow=0, pool_timeout=0.3
        )
        app = create_app(factory=sessionmaker(bind=engine, expire_on_commit=False))
        try:
            with TestClient(app, base_url="https://testserver") as client:
                client.cookies.set("__Host-medconsult_session", "some-session-token")
                held = engine.connect()  # the only connection, busy elsewhere
                try:
                    busy = client.get("/consultations", follow_redirects=False)
                finally:
                    held.close()
                recovered = client.get("/consultations", follow_redirects=False)
        finally:
            engine.dispose()

        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "2"
        assert "busy" in busy.text
        assert recovered.status_code == 303  # unknown session: sign in, the server is back
