from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from medconsult.accounts import passwords
from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import LoginFailure, Role, User, UserSession
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.config import Settings, get_settings
from medconsult.errors import Conflict, NotAuthenticated, TooManyRequests, ValidationFailed
from tests.factories import DEFAULT_PASSWORD, create_admin, create_patient


def _settings(**overrides: object) -> Settings:
    return get_settings().model_copy(update=overrides)


class TestRegisterPatient:
    def test_creates_patient_with_profile_and_hash(self, session: Session) -> None:
        user = accounts_service.register_patient(
            session, email="New.Person@Example.org", password="a sturdy passphrase", full_name="Neo"
        )

        assert user.role is Role.patient
        assert user.password_hash.startswith("$argon2id$")
        assert "m=19456,t=2,p=1" in user.password_hash
        assert passwords.verify_password(user.password_hash, "a sturdy passphrase")

    def test_email_unique_case_insensitively(self, session: Session) -> None:
        accounts_service.register_patient(
            session, email="dup@example.org", password="long enough pw"
        )

        with pytest.raises(ValidationFailed) as excinfo:
            accounts_service.register_patient(
                session, email="DUP@example.org", password="long enough pw"
            )

        assert "email" in excinfo.value.errors

    @pytest.mark.parametrize(
        ("email", "password", "field"),
        [
            ("", "long enough pw", "email"),
            ("not-an-email", "long enough pw", "email"),
            ("ok@example.org", "short", "password"),
            ("ok@example.org", "x" * 129, "password"),
            ("ok@example.org", "password123", "password"),
        ],
    )
    def test_invalid_fields_each_get_a_message(
        self, session: Session, email: str, password: str, field: str
    ) -> None:
        with pytest.raises(ValidationFailed) as excinfo:
            accounts_service.register_patient(session, email=email, password=password)

        assert field in excinfo.value.errors
        assert excinfo.value.errors[field]


class TestAuthenticate:
    def test_success_audits_login(self, session: Session) -> None:
        user = create_patient(session)

        result = accounts_service.authenticate(
            session,
            email=user.email.upper(),
            password=DEFAULT_PASSWORD,
            client_address="1.2.3.4",
            settings=get_settings(),
        )

        assert result.id == user.id
        event = session.scalars(select(AuditEvent).where(AuditEvent.actor_id == user.id)).one()
        assert (event.action, event.client_address) == ("auth.login", "1.2.3.4")

    def test_unknown_email_and_wrong_password_same_message(self, session: Session) -> None:
        user = create_patient(session)

        with pytest.raises(NotAuthenticated) as unknown:
            accounts_service.authenticate(
                session,
                email="nobody@example.org",
                password="whatever123",
                client_address="a",
                settings=get_settings(),
            )
        with pytest.raises(NotAuthenticated) as wrong:
            accounts_service.authenticate(
                session,
                email=user.email,
                password="wrong password",
                client_address="a",
                settings=get_settings(),
            )

        assert unknown.value.message == wrong.value.message

    def test_deactivated_user_cannot_log_in(self, session: Session) -> None:
        user = create_patient(session, active=False)

        with pytest.raises(NotAuthenticated):
            accounts_service.authenticate(
                session,
                email=user.email,
                password=DEFAULT_PASSWORD,
                client_address="a",
                settings=get_settings(),
            )


class TestThrottling:
    def test_eleventh_attempt_is_refused_even_with_right_password(self, session: Session) -> None:
        user = create_patient(session)
        settings = get_settings()
        for _ in range(settings.login_max_failures):
            with pytest.raises(NotAuthenticated):
                accounts_service.authenticate(
                    session,
                    email=user.email,
                    password="wrong",
                    client_address="9.9.9.9",
                    settings=settings,
                )

        with pytest.raises(TooManyRequests):
            accounts_service.authenticate(
                session,
                email=user.email,
                password=DEFAULT_PASSWORD,
                client_address="8.8.8.8",
                settings=settings,
            )

    def test_allowed_again_after_window(self, session: Session) -> None:
        user = create_patient(session)
        settings = get_settings()
        for _ in range(settings.login_max_failures):
            with pytest.raises(NotAuthenticated):
                accounts_service.authenticate(
                    session,
                    email=user.email,
                    password="wrong",
                    client_address="9.9.9.9",
                    settings=settings,
                )
        window = timedelta(minutes=settings.login_failure_window_minutes + 1)
        session.execute(update(LoginFailure).values(created_at=LoginFailure.created_at - window))

        result = accounts_service.authenticate(
            session,
            email=user.email,
            password=DEFAULT_PASSWORD,
            client_address="9.9.9.9",
            settings=settings,
        )

        assert result.id == user.id


class TestSessions:
    def test_token_resolves_and_only_hash_is_stored(self, session: Session) -> None:
        user = create_patient(session)

        token = accounts_service.start_session(session, user=user, settings=get_settings())

        stored = session.scalars(select(UserSession.token_hash)).all()
        assert token not in stored
        assert accounts_service.hash_token(token) in stored
        active = accounts_service.resolve_session(session, token=token, settings=get_settings())
        assert active is not None
        assert active.user.id == user.id

    def test_idle_timeout_ends_session(self, session: Session) -> None:
        user = create_patient(session)
        settings = _settings(session_idle_minutes=30)
        token = accounts_service.start_session(session, user=user, settings=settings)
        session.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .values(last_seen_at=UserSession.last_seen_at - timedelta(minutes=31))
        )

        assert accounts_service.resolve_session(session, token=token, settings=settings) is None
        # This user's rows only: live-server tests commit sessions of their own users.
        assert (
            session.scalars(select(UserSession).where(UserSession.user_id == user.id)).all() == []
        )

    def test_activity_is_recorded_once_a_minute(self, session: Session) -> None:
        user = create_patient(session)
        settings = get_settings()
        token = accounts_service.start_session(session, user=user, settings=settings)
        last_seen = select(UserSession.last_seen_at).where(UserSession.user_id == user.id)
        started = session.scalars(last_seen).one()

        accounts_service.resolve_session(session, token=token, settings=settings)
        session.flush()
        assert session.scalars(last_seen).one() == started

        session.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .values(last_seen_at=UserSession.last_seen_at - timedelta(minutes=2))
        )
        session.expire_all()
        active = accounts_service.resolve_session(session, token=token, settings=settings)
        session.flush()
        assert active is not None
        assert session.scalars(last_seen).one() > started

    def test_session_and_user_are_read_in_one_statement(self, session: Session) -> None:
        user = create_patient(session)
        settings = get_settings()
        token = accounts_service.start_session(session, user=user, settings=settings)
        session.flush()
        session.expire_all()
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        connection = session.connection()
        event.listen(connection, "before_cursor_execute", count)
        try:
            active = accounts_service.resolve_session(session, token=token, settings=settings)
            assert active is not None
            assert active.user.email == user.email
            session.flush()
        finally:
            event.remove(connection, "before_cursor_execute", count)
        assert len(statements) == 1

    def test_absolute_timeout_ends_session(self, session: Session) -> None:
        user = create_patient(session)
        token = accounts_service.start_session(session, user=user, settings=get_settings())
        session.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .values(expires_at=UserSession.created_at - timedelta(seconds=1))
        )

        assert (
            accounts_service.resolve_session(session, token=token, settings=get_settings()) is None
        )

    def test_password_change_ends_all_sessions(self, session: Session) -> None:
        user = create_patient(session)
        token = accounts_service.start_session(session, user=user, settings=get_settings())

        accounts_service.change_password(
            session, user=user, current=DEFAULT_PASSWORD, new="a brand new passphrase"
        )

        assert (
            accounts_service.resolve_session(session, token=token, settings=get_settings()) is None
        )


class TestAdminGuards:
    def test_last_admin_cannot_be_deactivated_or_demoted(self, session: Session) -> None:
        # Only this test's admin is active (rolled back afterwards).
        session.execute(update(User).where(User.role == Role.admin).values(is_active=False))
        admin = create_admin(session)

        with pytest.raises(Conflict):
            accounts_service.set_active(session, actor=admin, user_id=admin.id, active=False)
        with pytest.raises(Conflict):
            accounts_service.set_role(session, actor=admin, user_id=admin.id, role=Role.doctor)

    def test_role_change_is_audited_with_actor(self, session: Session) -> None:
        admin = create_admin(session)
        patient = create_patient(session)

        accounts_service.set_role(session, actor=admin, user_id=patient.id, role=Role.doctor)

        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "account.role_changed",
                AuditEvent.record_id == str(patient.id),
            )
        ).one()
        assert event.actor_id == admin.id
        assert event.record_id == str(patient.id)
        assert event.outcome is Outcome.success
        assert event.details == {"from": "patient", "to": "doctor"}
