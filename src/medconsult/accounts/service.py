"""Accounts: registration, authentication with throttling, server-side sessions, roles."""

from __future__ import annotations

import hashlib
import secrets
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from medconsult import i18n
from medconsult.accounts import passwords
from medconsult.accounts.models import (
    LoginFailure,
    MfaChallenge,
    MfaCredential,
    PasswordToken,
    Role,
    User,
    UserSession,
)
from medconsult.audit import service as audit_service
from medconsult.audit.models import Outcome
from medconsult.config import Settings, get_settings
from medconsult.db import keep_on_rollback, utcnow
from medconsult.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from medconsult.i18n import N_, _
from medconsult.notifications import service as notifications_service
from medconsult.notifications.models import NotificationKind

# A session's last activity is recorded to this resolution (see resolve_session).
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
INVALID_LOGIN = N_("Incorrect email or password.")
THROTTLED_LOGIN = N_(
    "Too many failed sign-in attempts. Please wait {minutes} minutes and try again."
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(raw: str) -> str:
    """Validate an email address and return it normalised; raises ValidationFailed."""
    raw = (raw or "").strip()
    if not raw:
        raise ValidationFailed({"email": _("Enter your email address.")})
    if len(raw) > 254:
        raise ValidationFailed({"email": _("Email address is too long.")})
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        message = _("Enter a valid email address ({reason}).").format(reason=exc)
        raise ValidationFailed({"email": message}) from exc


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("User not found."))
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def check_new_account(session: Session, *, email: str, password: str | None) -> str:
    """Validate a new account's email and password; returns the normalised email."""
    errors: dict[str, str] = {}
    try:
        email = normalize_email(email)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if password is not None:
        problem = passwords.password_problem(password, email=email)
        if problem:
            errors["password"] = problem
    if not errors and get_user_by_email(session, email) is not None:
        errors["email"] = _("An account with this email address already exists.")
    if errors:
        raise ValidationFailed(errors)
    return email


def register_patient(session: Session, *, email: str, password: str, full_name: str = "") -> User:
    """Self-registration: always a patient account, with an empty profile."""
    from medconsult.patients import service as patients_service

    email = check_new_account(session, email=email, password=password)
    user = User(
        email=email,
        password_hash=passwords.hash_password(password),
        role=Role.patient,
        full_name=full_name.strip()[:200],
    )
    session.add(user)
    session.flush()
    patients_service.ensure_profile(session, user=user)
    audit_service.record_own(session, user=user, action="account.registered")
    return user


def create_user(
    session: Session,
    *,
    actor: User | None,
    email: str,
    role: Role,
    full_name: str = "",
    password: str | None = None,
) -> tuple[User, str | None]:
    """Create an account (admin action or CLI). Without a password, returns a set-password token."""
    email = check_new_account(session, email=email, password=password)
    user = User(
        email=email,
        # An unusable hash until the one-time link is used.
        password_hash=passwords.hash_password(password or secrets.token_urlsafe(32)),
        role=role,
        full_name=full_name.strip()[:200],
    )
    session.add(user)
    session.flush()
    if role is Role.patient:
        from medconsult.patients import service as patients_service

        patients_service.ensure_profile(session, user=user)
    token = None if password else issue_password_token(session, user=user)
    audit_service.record_user(
        session, actor=actor, action="account.created", user=user, details={"role": str(role)}
    )
    notifications_service.notify(
        session, user=user, kind=NotificationKind.account_created, link_path="/login"
    )
    return user, token


def issue_password_token(session: Session, *, user: User, settings: Settings | None = None) -> str:
    """A one-time set-password token, valid for ``settings.password_token_hours``."""
    hours = (settings or get_settings()).password_token_hours
    return issue_token(session, PasswordToken, user=user, lifetime=timedelta(hours=hours))


def issue_token(
    session: Session,
    model: type[PasswordToken] | type[MfaChallenge],
    *,
    user: User,
    lifetime: timedelta,
) -> str:
    """A new one-time token for ``user``, stored as a ``model`` row by its hash only."""
    token = secrets.token_urlsafe(32)
    session.add(
        model(user_id=user.id, token_hash=hash_token(token), expires_at=utcnow() + lifetime)
    )
    session.flush()
    return token


def use_password_token(session: Session, *, token: str, new_password: str) -> User:
    """Set a password through a one-time link; the link then stops working."""
    row = session.scalar(
        select(PasswordToken).where(PasswordToken.token_hash == hash_token(token)).with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise NotFound(
            _("This link is invalid or has expired. Ask an administrator for a new one.")
        )
    user = get_user(session, row.user_id)
    problem = passwords.password_problem(new_password, email=user.email)
    if problem:
        raise ValidationFailed({"password": problem})
    row.used_at = utcnow()
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    end_all_sessions(session, user_id=user.id)
    audit_service.record_own(session, user=user, action="account.password_set")
    return user


def _recent_failures(
    session: Session, *, column: InstrumentedAttribute[str], value: str, since: datetime
) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(column == value, LoginFailure.created_at > since)
        )
        or 0
    )


def sign_in_throttled(
    session: Session, *, email_key: str, client_address: str, settings: Settings
) -> bool:
    """Too many failed sign-in steps (password or second factor) for this account or client."""
    since = utcnow() - timedelta(minutes=settings.login_failure_window_minutes)
    per_account = _recent_failures(session, column=LoginFailure.email, value=email_key, since=since)
    per_client = _recent_failures(
        session, column=LoginFailure.client_address, value=client_address, since=since
    )
    return (
        per_account >= settings.login_max_failures
        or per_client >= settings.login_max_failures_per_client
    )


@dataclass(frozen=True)
class SignInAttempt:
    """One sign-in step: the account when it is known, the email key typed, the client."""

    user: User | None
    email_key: str
    client_address: str

    def audit(
        self,
        session: Session,
        *,
        action: str,
        outcome: Outcome,
        details: dict[str, Any] | None = None,
    ) -> None:
        """About the account when there is one, else about a hash of the email typed."""
        user = self.user
        if user is None:
            details = {**(details or {}), "email_hash": hash_token(self.email_key)[:16]}
        audit_service.record(
            session,
            actor=user,
            action=action,
            outcome=outcome,
            client_address=self.client_address,
            record_type="user" if user else None,
            record_id=user.id if user else None,
            details=details,
        )


def refuse_if_throttled(
    session: Session, attempt: SignInAttempt, *, settings: Settings, action: str
) -> None:
    """TooManyRequests, audited as ``action``, once sign-in steps (password or second factor)
    have failed too often for this account or client."""
    if sign_in_throttled(
        session,
        email_key=attempt.email_key,
        client_address=attempt.client_address,
        settings=settings,
    ):
        attempt.audit(session, action=action, outcome=Outcome.denied)
        window = timedelta(minutes=settings.login_failure_window_minutes)
        raise TooManyRequests(
            _(THROTTLED_LOGIN).format(minutes=settings.login_failure_window_minutes),
            retry_after_seconds=int(window.total_seconds()),
        )


def count_sign_in_failure(
    session: Session,
    attempt: SignInAttempt,
    *,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Count a failed sign-in step for throttling and audit it; both kept past the rollback
    of the request that fails."""
    failure = LoginFailure(email=attempt.email_key, client_address=attempt.client_address)
    keep_on_rollback(session, lambda target: target.add(failure))
    attempt.audit(session, action=action, outcome=Outcome.failure, details=details)


def authenticate(
    session: Session, *, email: str, password: str, client_address: str, settings: Settings
) -> User:
    """Check credentials under throttling; the same message for unknown email and bad password."""
    email_key = (email or "").strip().lower()[:254]
    refuse_if_throttled(
        session,
        SignInAttempt(None, email_key, client_address),
        settings=settings,
        action="auth.login_throttled",
    )
    user = get_user_by_email(session, email_key) if email_key else None
    # Verify against a dummy hash for unknown users so timing does not reveal accounts.
    ok = passwords.verify_password(user.password_hash if user else passwords.DUMMY_HASH, password)
    if user is None or not ok or not user.is_active:
        attempt = SignInAttempt(user, email_key, client_address)
        count_sign_in_failure(session, attempt, action="auth.login_failed")
        raise NotAuthenticated(_(INVALID_LOGIN))
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    second_factor_due = mfa_enabled(session, user_id=user.id)
    if not second_factor_due:
        user.last_login_at = utcnow()
    # With MFA the sign-in completes only after the second factor (accounts.mfa).
    action = "auth.password_verified" if second_factor_due else "auth.login"
    audit_service.record_own(session, user=user, action=action, client_address=client_address)
    return user


def mfa_enabled(session: Session, *, user_id: uuid.UUID) -> bool:
    """Whether the user has a confirmed second factor (see accounts.mfa)."""
    confirmed = session.scalar(
        select(MfaCredential.confirmed_at).where(MfaCredential.user_id == user_id)
    )
    return confirmed is not None


def start_session(
    session: Session,
    *,
    user: User,
    settings: Settings,
    client_address: str | None = None,
    user_agent: str | None = None,
) -> str:
    """Create a server-side session and return the raw token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)  # 256 bits
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=hash_token(token),
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_absolute_hours),
            client_address=client_address,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class ActiveSession:
    user: User
    session_id: uuid.UUID


def resolve_session(session: Session, *, token: str, settings: Settings) -> ActiveSession | None:
    """The user behind a session token, or None if unknown, idle too long or expired."""
    if not token or len(token) > 200:
        return None
    # The session and its user in one statement: this runs before every signed-in page.
    row = session.scalar(
        select(UserSession)
        .options(joinedload(UserSession.user))
        .where(UserSession.token_hash == hash_token(token))
    )
    if row is None:
        return None
    now = utcnow()
    idle_limit = timedelta(minutes=settings.session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle_limit <= now or not row.user.is_active:
        session.delete(row)
        session.flush()
        return None
    # Written at most once a minute, not on every request: the idle limit is counted in
    # minutes, and an UPDATE per page view costs a statement and a row version each time.
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
    return ActiveSession(user=row.user, session_id=row.id)


def end_session(session: Session, *, token: str, actor: User | None) -> None:
    """Logout: delete the session so a replayed cookie is refused."""
    session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(token)))
    if actor is not None:
        audit_service.record_own(session, user=actor, action="auth.logout")


def end_all_sessions(session: Session, *, user_id: uuid.UUID) -> int:
    result = session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def change_password(session: Session, *, user: User, current: str, new: str) -> None:
    """Change one's own password; every session of the user ends."""
    if not passwords.verify_password(user.password_hash, current):
        audit_service.record_own(
            session, user=user, action="account.password_change", outcome=Outcome.failure
        )
        raise ValidationFailed({"current_password": _("Current password is incorrect.")})
    problem = passwords.password_problem(new, email=user.email)
    if problem:
        raise ValidationFailed({"new_password": problem})
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = False
    end_all_sessions(session, user_id=user.id)
    audit_service.record_own(session, user=user, action="account.password_change")


def valid_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    return name in zoneinfo.available_timezones()


def update_preferences(
    session: Session, *, user: User, locale: str | None, time_zone: str | None
) -> None:
    """Save one's own display language and time zone (None: not chosen, the defaults apply)."""
    errors: dict[str, str] = {}
    if locale is not None and locale not in i18n.SUPPORTED_LOCALES:
        errors["locale"] = _("Please choose one of the languages offered.")
    if time_zone is not None and not valid_time_zone(time_zone):
        errors["time_zone"] = _("Please choose a time zone from the list.")
    if errors:
        raise ValidationFailed(errors)
    changed = sorted(
        name
        for name, old, new in (
            ("locale", user.locale, locale),
            ("time_zone", user.time_zone, time_zone),
        )
        if old != new
    )
    user.locale = locale
    user.time_zone = time_zone
    if changed:
        audit_service.record_own(
            session, user=user, action="account.preferences_changed", details={"changed": changed}
        )
    session.flush()


def _active_admin_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.admin, User.is_active)
        )
        or 0
    )


def _lock_active_admins(session: Session) -> None:
    # Two admins demoting each other at the same moment must not both pass the last-admin check.
    session.execute(
        select(User.id).where(User.role == Role.admin, User.is_active).with_for_update()
    )


def _guard_last_admin(session: Session, user: User) -> None:
    """The last active administrator is never deactivated or demoted.

    Callers take ``_lock_active_admins`` before reading ``user``: the check and its lock
    live here, so no caller can skip the lock.
    """
    if user.role is Role.admin and user.is_active and _active_admin_count(session) <= 1:
        raise Conflict(_("The last active administrator cannot be removed or demoted."))


def set_active(session: Session, *, actor: User, user_id: uuid.UUID, active: bool) -> User:
    """Deactivate (ending every session at once) or reactivate an account."""
    _lock_active_admins(session)
    user = get_user(session, user_id)
    if not active:
        _guard_last_admin(session, user)
        end_all_sessions(session, user_id=user.id)
    user.is_active = active
    audit_service.record_user(
        session,
        actor=actor,
        action="account.reactivated" if active else "account.deactivated",
        user=user,
    )
    return user


def set_role(session: Session, *, actor: User, user_id: uuid.UUID, role: Role) -> User:
    """Change an account's role; the last active admin keeps theirs."""
    _lock_active_admins(session)
    user = get_user(session, user_id)
    if user.role is role:
        return user
    if role is not Role.admin:
        _guard_last_admin(session, user)
    old = user.role
    user.role = role
    end_all_sessions(session, user_id=user.id)
    audit_service.record_user(
        session,
        actor=actor,
        action="account.role_changed",
        user=user,
        details={"from": str(old), "to": str(role)},
    )
    return user


def reset_password(session: Session, *, actor: User, user_id: uuid.UUID) -> str:
    """Admin reset: sessions end, the old password stops working, a one-time link is issued."""
    user = get_user(session, user_id)
    user.password_hash = passwords.hash_password(secrets.token_urlsafe(32))
    end_all_sessions(session, user_id=user.id)
    token = issue_password_token(session, user=user)
    audit_service.record_user(session, actor=actor, action="account.password_reset", user=user)
    notifications_service.notify(
        session, user=user, kind=NotificationKind.password_reset, link_path="/login"
    )
    return token


def list_users(
    session: Session,
    *,
    query: str = "",
    role: Role | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[User], int]:
    stmt = select(User)
    if query.strip():
        like = f"%{query.strip().lower()}%"
        stmt = stmt.where(
            or_(func.lower(User.email).like(like), func.lower(User.full_name).like(like))
        )
    if role is not None:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.is_active == active)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(User.created_at.desc()).limit(limit).offset(offset)).all()
    return rows, total


def list_sessions(session: Session, *, user_id: uuid.UUID) -> Sequence[UserSession]:
    return session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id)
        .order_by(UserSession.last_seen_at.desc())
    ).all()


def end_session_by_id(
    session: Session, *, actor: User, user_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != user_id:
        raise NotFound(_("Session not found."))
    session.delete(row)
    audit_service.record(
        session,
        actor=actor,
        action="account.session_ended",
        record_type="user",
        record_id=user_id,
    )


def admin_exists(session: Session) -> bool:
    return _active_admin_count(session) > 0
