"""Two-step sign-in (TOTP): enrolment, the second factor on pages and the API, replayed and
reused codes, throttling, staff enforcement, and the admin reset."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medconsult.accounts import mfa
from medconsult.accounts.models import (
    LoginFailure,
    MfaChallenge,
    MfaCredential,
    MfaRecoveryCode,
    UserSession,
)
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.auth import session_cookie_name
from medconsult.config import get_settings
from medconsult.db import utcnow
from medconsult.errors import Conflict, Forbidden, NotAuthenticated, TooManyRequests
from tests.factories import (
    DEFAULT_PASSWORD,
    create_admin,
    create_doctor,
    create_patient,
    enable_mfa,
    login,
)

COOKIE = session_cookie_name(get_settings())


def _form_token(client: TestClient, path: str) -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF token in {path}: {page.status_code}"
    return match.group(1)


def _code(secret: str, *, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30 * steps_ahead))


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


@pytest.fixture
def staff_mfa_required(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MEDCONSULT_REQUIRE_STAFF_MFA", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


class TestSetting:
    def test_default_true_outside_development(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from medconsult.config import Settings

        monkeypatch.delenv("MEDCONSULT_REQUIRE_STAFF_MFA", raising=False)

        assert Settings(env="development").staff_mfa_required is False
        assert Settings(env="testing").staff_mfa_required is True
        assert (
            Settings(env="production", secret_key="x" * 40).staff_mfa_required  # type: ignore[arg-type]
            is True
        )
        assert Settings(env="development", require_staff_mfa=True).staff_mfa_required is True


class TestEnrolmentService:
    def test_confirm_with_right_code_gives_ten_hashed_recovery_codes(
        self, session: Session
    ) -> None:
        user = create_patient(session)
        enrolment = mfa.begin_enrolment(session, user=user)

        codes = mfa.confirm_enrolment(
            session,
            user=user,
            code=_code(enrolment.secret),
            client_address="10.0.0.1",
            settings=get_settings(),
        )

        stored = session.scalars(
            select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == user.id)
        ).all()
        assert len(codes) == 10
        assert len(set(codes)) == 10
        assert len(stored) == 10
        assert not set(codes) & set(stored)  # only hashes are kept
        assert mfa.is_enabled(session, user=user)
        assert enrolment.uri.startswith("otpauth://totp/MedConsult:")
        assert "<svg" in enrolment.qr_svg()
        assert _events(session, "account.mfa_enabled")

    def test_wrong_code_leaves_mfa_off_and_is_counted(self, session: Session) -> None:
        user = create_patient(session)
        mfa.begin_enrolment(session, user=user)

        with pytest.raises(NotAuthenticated):
            mfa.confirm_enrolment(
                session,
                user=user,
                code="000000",
                client_address="10.0.0.2",
                settings=get_settings(),
            )

        assert not mfa.is_enabled(session, user=user)
        assert session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.email == user.email.lower())
        )
        failed = _events(session, "account.mfa_enrol_failed")
        assert failed
        assert failed[0].outcome is Outcome.failure

    def test_second_enrolment_refused_once_on(self, session: Session) -> None:
        user = create_patient(session)
        enable_mfa(session, user=user)

        with pytest.raises(Conflict):
            mfa.begin_enrolment(session, user=user)


class TestVerify:
    def test_totp_code_replay_in_same_step_refused(self, session: Session) -> None:
        user = create_patient(session)
        secret, _ = enable_mfa(session, user=user)
        code = _code(secret)
        settings = get_settings()

        first = mfa.verify(session, user=user, code=code, client_address="a", settings=settings)
        with pytest.raises(NotAuthenticated):
            mfa.verify(session, user=user, code=code, client_address="a", settings=settings)

        assert first == "totp"
        assert _events(session, "auth.mfa_failed")[-1].details["reason"] == "code_replayed"

    def test_recovery_code_works_once(self, session: Session) -> None:
        user = create_patient(session)
        _, codes = enable_mfa(session, user=user)
        settings = get_settings()

        used = mfa.verify(session, user=user, code=codes[0], client_address="a", settings=settings)
        with pytest.raises(NotAuthenticated):
            mfa.verify(session, user=user, code=codes[0], client_address="a", settings=settings)

        assert used == "recovery_code"
        assert mfa.remaining_recovery_codes(session, user=user) == 9
        assert _events(session, "auth.mfa_failed")[-1].details["reason"] == "recovery_code_reused"

    def test_recovery_code_accepted_without_dash_and_in_capitals(self, session: Session) -> None:
        user = create_patient(session)
        _, codes = enable_mfa(session, user=user)

        used = mfa.verify(
            session,
            user=user,
            code=codes[1].replace("-", "").upper(),
            client_address="a",
            settings=get_settings(),
        )

        assert used == "recovery_code"

    def test_another_users_recovery_code_refused(self, session: Session) -> None:
        user = create_patient(session)
        other = create_patient(session)
        enable_mfa(session, user=user)
        _, other_codes = enable_mfa(session, user=other)

        with pytest.raises(NotAuthenticated):
            mfa.verify(
                session, user=user, code=other_codes[0], client_address="a", settings=get_settings()
            )

    def test_wrong_codes_throttled_like_passwords(self, session: Session) -> None:
        user = create_patient(session)
        secret, _ = enable_mfa(session, user=user)
        settings = get_settings()
        for _ in range(settings.login_max_failures):
            with pytest.raises(NotAuthenticated):
                mfa.verify(session, user=user, code="123456", client_address="b", settings=settings)

        with pytest.raises(TooManyRequests):
            mfa.verify(
                session, user=user, code=_code(secret), client_address="b", settings=settings
            )

        assert _events(session, "auth.mfa_throttled")


class TestChallenge:
    def test_expired_challenge_refused_even_with_right_code(self, session: Session) -> None:
        user = create_patient(session)
        secret, _ = enable_mfa(session, user=user)
        token = mfa.start_challenge(session, user=user)
        challenge = session.scalars(
            select(MfaChallenge).where(MfaChallenge.user_id == user.id)
        ).one()
        challenge.expires_at = utcnow() - timedelta(seconds=1)
        session.flush()

        with pytest.raises(NotAuthenticated, match="expired"):
            mfa.complete_challenge(
                session,
                token=token,
                code=_code(secret),
                client_address="c",
                settings=get_settings(),
            )

    def test_challenge_redeemed_once_and_expired_ones_cleared(self, session: Session) -> None:
        user = create_patient(session)
        secret, _ = enable_mfa(session, user=user)
        stale = mfa.start_challenge(session, user=user)
        session.scalars(select(MfaChallenge)).one().expires_at = utcnow() - timedelta(minutes=1)
        session.flush()
        token = mfa.start_challenge(session, user=user)

        signed_in = mfa.complete_challenge(
            session, token=token, code=_code(secret), client_address="c", settings=get_settings()
        )

        assert signed_in.id == user.id
        assert mfa.challenge_user(session, token=stale) is None
        assert not session.scalars(
            select(MfaChallenge).where(MfaChallenge.user_id == user.id)
        ).all()


class TestReset:
    def test_admin_reset_removes_factor_and_sessions(self, session: Session) -> None:
        admin = create_admin(session)
        doctor = create_doctor(session)
        enable_mfa(session, user=doctor)
        from medconsult.accounts import service as accounts_service

        accounts_service.start_session(session, user=doctor, settings=get_settings())

        mfa.reset(session, actor=admin, user_id=doctor.id)

        assert not mfa.is_enabled(session, user=doctor)
        assert mfa.remaining_recovery_codes(session, user=doctor) == 0
        assert not session.scalars(
            select(UserSession).where(UserSession.user_id == doctor.id)
        ).all()
        assert _events(session, "account.mfa_reset")[-1].actor_id == admin.id

    def test_non_admin_refused_and_audited(self, session: Session) -> None:
        doctor = create_doctor(session)
        patient = create_patient(session)
        enable_mfa(session, user=patient)

        with pytest.raises(Forbidden):
            mfa.reset(session, actor=doctor, user_id=patient.id)

        assert mfa.is_enabled(session, user=patient)
        assert _events(session, "account.mfa_reset")[-1].outcome is Outcome.denied


class TestWebSignIn:
    def _password_step(self, client: TestClient, email: str) -> object:
        token = _form_token(client, "/login")
        return client.post(
            "/login",
            data={"csrf_token": token, "email": email, "password": DEFAULT_PASSWORD},
            follow_redirects=False,
        )

    def test_password_alone_gives_no_session(self, client: TestClient, session: Session) -> None:
        user = create_patient(session)
        enable_mfa(session, user=user)

        response = self._password_step(client, user.email)

        assert response.status_code == 303  # type: ignore[attr-defined]
        assert response.headers["location"].startswith("/login/mfa")  # type: ignore[attr-defined]
        assert COOKIE not in client.cookies
        assert client.get("/profile", follow_redirects=False).status_code == 303
        assert _events(session, "auth.password_verified")

    def test_right_code_signs_in(self, client: TestClient, session: Session) -> None:
        user = create_patient(session)
        secret, _ = enable_mfa(session, user=user)
        self._password_step(client, user.email)
        token = _form_token(client, "/login/mfa")

        response = client.post(
            "/login/mfa",
            data={"csrf_token": token, "code": _code(secret), "next": "/profile"},
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert response.headers["location"] == "/profile"
        assert COOKIE in client.cookies
        assert client.get("/profile").status_code == 200
        login_event = _events(session, "auth.login")[-1]
        assert login_event.details == {"second_factor": "totp"}

    def test_wrong_code_clear_message_and_no_session(
        self, client: TestClient, session: Session
    ) -> None:
        user = create_patient(session)
        enable_mfa(session, user=user)
        self._password_step(client, user.email)
        token = _form_token(client, "/login/mfa")

        response = client.post("/login/mfa", data={"csrf_token": token, "code": "999999"})

        assert response.status_code == 401
        assert "That code is not correct." in response.text
        assert COOKIE not in client.cookies

    def test_mfa_page_without_challenge_goes_to_login(self, client: TestClient) -> None:
        response = client.get("/login/mfa", follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"] == "/login"

    def test_enrolment_pages(self, client: TestClient, session: Session) -> None:
        user = create_patient(session)
        csrf_value = login(client, session, user)

        page = client.get("/account/mfa")
        secret = re.search(r'data-testid="mfa-secret"', page.text) and session.scalar(
            select(MfaCredential.secret).where(MfaCredential.user_id == user.id)
        )
        assert secret
        wrong = client.post("/account/mfa/confirm", data={"csrf_token": csrf_value, "code": "1"})
        right = client.post(
            "/account/mfa/confirm", data={"csrf_token": csrf_value, "code": _code(secret)}
        )

        assert page.status_code == 200
        assert "<svg" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert wrong.status_code == 401
        assert right.status_code == 200
        assert len(re.findall(r"<li><code>[0-9a-f]{5}-[0-9a-f]{5}</code></li>", right.text)) == 10
        assert mfa.is_enabled(session, user=user)


class TestStaffEnforcement:
    @pytest.mark.usefixtures("staff_mfa_required")
    def test_doctor_without_mfa_sent_to_enrolment(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        login(client, session, doctor)

        page = client.get("/doctor", follow_redirects=False)
        api = client.get("/api/v1/doctor/queue")
        setup = client.get("/account/mfa")

        assert page.status_code == 303
        assert page.headers["location"] == "/account/mfa"
        assert api.status_code == 403
        assert api.json()["error"]["code"] == "mfa_enrolment_required"
        assert setup.status_code == 200
        assert "Your role requires two-step sign-in" in setup.text

    @pytest.mark.usefixtures("staff_mfa_required")
    def test_doctor_with_mfa_gets_in(self, client: TestClient, session: Session) -> None:
        doctor = create_doctor(session)
        enable_mfa(session, user=doctor)
        login(client, session, doctor)

        assert client.get("/doctor").status_code == 200

    @pytest.mark.usefixtures("staff_mfa_required")
    def test_patient_not_forced(self, client: TestClient, session: Session) -> None:
        patient = create_patient(session)
        login(client, session, patient)

        assert client.get("/profile").status_code == 200

    @pytest.mark.usefixtures("staff_mfa_required")
    def test_required_factor_cannot_be_turned_off(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        secret, _ = enable_mfa(session, user=doctor)
        csrf_value = login(client, session, doctor)

        response = client.post(
            "/account/mfa/disable", data={"csrf_token": csrf_value, "code": _code(secret)}
        )

        assert response.status_code == 403
        assert mfa.is_enabled(session, user=doctor)


class TestApi:
    def test_bearer_token_only_after_second_factor(
        self, client: TestClient, session: Session
    ) -> None:
        user = create_doctor(session)
        secret, _ = enable_mfa(session, user=user)

        first = client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
        )
        body = first.json()
        wrong = client.post(
            "/api/v1/auth/mfa",
            json={"challenge_token": body["challenge_token"], "code": "000000"},
        )
        right = client.post(
            "/api/v1/auth/mfa",
            json={"challenge_token": body["challenge_token"], "code": _code(secret)},
        )
        client.cookies.clear()  # as an API client without cookies
        again = client.post(
            "/api/v1/auth/mfa",
            json={"challenge_token": body["challenge_token"], "code": _code(secret, steps_ahead=1)},
        )
        client.cookies.clear()
        me = client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {right.json()['token']}"}
        )

        assert first.status_code == 200
        assert body["mfa_required"] is True
        assert "token" not in body
        assert wrong.status_code == 401
        assert right.status_code == 200
        assert again.status_code == 401  # a challenge is redeemed once
        assert me.json()["user"]["email"] == user.email
        # The wrong code's failure and audit event outlived the request's rollback.
        assert session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.email == user.email.lower())
        )
        assert _events(session, "auth.mfa_failed")

    def test_api_enrolment(self, client: TestClient, session: Session) -> None:
        user = create_patient(session)
        csrf_value = login(client, session, user)
        headers = {"x-csrf-token": csrf_value}

        begun = client.post("/api/v1/auth/mfa/enrolment", headers=headers)
        confirmed = client.post(
            "/api/v1/auth/mfa/enrolment/confirm",
            json={"code": _code(begun.json()["secret"])},
            headers=headers,
        )

        assert begun.status_code == 200
        assert confirmed.status_code == 200
        assert len(confirmed.json()["recovery_codes"]) == 10

    def test_admin_reset_via_api_and_non_admin_403(
        self, client: TestClient, session: Session
    ) -> None:
        admin = create_admin(session)
        doctor = create_doctor(session)
        patient = create_patient(session)
        enable_mfa(session, user=patient)

        login(client, session, doctor)
        denied = client.post(f"/api/v1/admin/users/{patient.id}/mfa-reset")
        still_on = mfa.is_enabled(session, user=patient)
        client.cookies.clear()
        admin_csrf = login(client, session, admin)
        done = client.post(
            f"/api/v1/admin/users/{patient.id}/mfa-reset", headers={"x-csrf-token": admin_csrf}
        )

        assert denied.status_code == 403
        assert still_on
        assert done.status_code == 200
        assert not mfa.is_enabled(session, user=patient)


class TestOptionalForPatients:
    def test_patient_turns_it_off_with_a_code(self, client: TestClient, session: Session) -> None:
        patient = create_patient(session)
        secret, _ = enable_mfa(session, user=patient)
        csrf_value = login(client, session, patient)

        wrong = client.post("/account/mfa/disable", data={"csrf_token": csrf_value, "code": "1"})
        still_on = mfa.is_enabled(session, user=patient)
        right = client.post(
            "/account/mfa/disable",
            data={"csrf_token": csrf_value, "code": _code(secret)},
            follow_redirects=False,
        )

        assert wrong.status_code == 401
        assert still_on
        assert right.status_code == 303
        assert not mfa.is_enabled(session, user=patient)
        assert _events(session, "account.mfa_disabled")


class TestAdminResetPage:
    def test_admin_button_resets_and_doctor_gets_403(
        self, client: TestClient, session: Session
    ) -> None:
        admin = create_admin(session)
        doctor = create_doctor(session)
        target = create_doctor(session)
        enable_mfa(session, user=target)

        doctor_csrf = login(client, session, doctor)
        denied = client.post(
            f"/admin/users/{target.id}/mfa-reset", data={"csrf_token": doctor_csrf}
        )
        still_on = mfa.is_enabled(session, user=target)
        client.cookies.clear()
        admin_csrf = login(client, session, admin)
        page = client.get(f"/admin/users/{target.id}")
        done = client.post(
            f"/admin/users/{target.id}/mfa-reset",
            data={"csrf_token": admin_csrf},
            follow_redirects=False,
        )

        assert denied.status_code == 403
        assert still_on
        assert "Reset two-step sign-in" in page.text
        assert done.status_code == 303
        assert not mfa.is_enabled(session, user=target)


class TestStaffSignInRedirect:
    @pytest.mark.usefixtures("staff_mfa_required")
    def test_doctor_without_mfa_lands_on_setup_after_sign_in(
        self, client: TestClient, session: Session
    ) -> None:
        doctor = create_doctor(session)
        token = _form_token(client, "/login")

        response = client.post(
            "/login",
            data={"csrf_token": token, "email": doctor.email, "password": DEFAULT_PASSWORD},
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert response.headers["location"] == "/account/mfa"
