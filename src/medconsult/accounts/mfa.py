"""Second factor: TOTP (RFC 6238) enrolment, sign-in challenges, recovery codes, admin reset.

Wrong codes are counted in ``login_failures`` like wrong passwords, so one throttle covers both
factors (per account and per client address).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from medconsult import access
from medconsult.accounts.models import (
    MfaChallenge,
    MfaCredential,
    MfaRecoveryCode,
    Role,
    User,
)
from medconsult.accounts.service import (
    SignInAttempt,
    count_sign_in_failure,
    end_all_sessions,
    get_user,
    hash_token,
    issue_token,
    mfa_enabled,
    refuse_if_throttled,
)
from medconsult.audit import service as audit_service
from medconsult.config import Settings
from medconsult.db import utcnow
from medconsult.errors import Conflict, Forbidden, NotAuthenticated
from medconsult.i18n import N_, _

ISSUER = "MedConsult"
RECOVERY_CODE_COUNT = 10
CHALLENGE_MINUTES = 5
STAFF_ROLES = frozenset({Role.doctor, Role.admin})
INVALID_CODE = N_("That code is not correct. Check your authenticator app and try again.")
CHALLENGE_EXPIRED = N_("Your sign-in has expired. Please sign in again.")
# RFC 6238 section 5.2: accept one step of clock drift either side.
VALID_WINDOW = 1


def get_credential(session: Session, *, user_id: uuid.UUID) -> MfaCredential | None:
    return session.scalar(select(MfaCredential).where(MfaCredential.user_id == user_id))


def is_enabled(session: Session, *, user: User) -> bool:
    """Whether the user signs in with a second factor."""
    return mfa_enabled(session, user_id=user.id)


def is_required(user: User, settings: Settings) -> bool:
    """Whether the user must enrol before using the app (staff, when the setting says so)."""
    return settings.staff_mfa_required and user.role in STAFF_ROLES


def enrolment_pending(session: Session, *, user: User, settings: Settings) -> bool:
    return is_required(user, settings) and not is_enabled(session, user=user)


# --- enrolment -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str  # otpauth://totp/... for authenticator apps

    def qr_svg(self) -> str:
        """The provisioning URI as an inline SVG QR code (rendered here, no external service)."""
        svg: str = segno.make(self.uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")
        return svg


def _enrolment(user: User, secret: str) -> Enrolment:
    return Enrolment(
        secret=secret,
        uri=pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER),
    )


def begin_enrolment(session: Session, *, user: User) -> Enrolment:
    """A new (unconfirmed) TOTP secret for the user, or the pending one if already begun."""
    credential = get_credential(session, user_id=user.id)
    if credential is not None and credential.confirmed_at is not None:
        raise Conflict(_("Two-step sign-in is already set up for this account."))
    if credential is None:
        credential = MfaCredential(user_id=user.id, secret=pyotp.random_base32())
        session.add(credential)
        session.flush()
    return _enrolment(user, credential.secret)


def _matching_step(secret: str, code: str) -> int | None:
    """The time step a 6-digit code belongs to within the drift window, or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(utcnow())
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _check_throttle(
    session: Session, *, user: User, client_address: str, settings: Settings
) -> None:
    attempt = SignInAttempt(user, user.email.lower(), client_address)
    refuse_if_throttled(session, attempt, settings=settings, action="auth.mfa_throttled")


def _audit_step(
    session: Session, user: User, action: str, client_address: str, **details: object
) -> None:
    """The event of a user's own sign-in or set-up step, from the client that took it."""
    audit_service.record_own(
        session,
        user=user,
        action=action,
        client_address=client_address,
        details=dict(details) or None,
    )


def _fail(
    session: Session, *, user: User, client_address: str, action: str, reason: str
) -> NotAuthenticated:
    attempt = SignInAttempt(user, user.email.lower(), client_address)
    count_sign_in_failure(session, attempt, action=action, details={"reason": reason})
    return NotAuthenticated(_(INVALID_CODE), field="code")


def _new_recovery_codes(session: Session, *, user: User) -> list[str]:
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    codes = [_format_recovery_code(secrets.token_hex(5)) for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(
        MfaRecoveryCode(user_id=user.id, code_hash=hash_token(_normalise_recovery_code(code)))
        for code in codes
    )
    session.flush()
    return codes


def _format_recovery_code(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def _normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def confirm_enrolment(
    session: Session, *, user: User, code: str, client_address: str, settings: Settings
) -> list[str]:
    """Turn MFA on once the user proves their app has the secret; the ten recovery codes (shown
    once: only their hashes are kept)."""
    credential = get_credential(session, user_id=user.id)
    if credential is None:
        raise Conflict(_("Start setting up two-step sign-in first."))
    if credential.confirmed_at is not None:
        raise Conflict(_("Two-step sign-in is already set up for this account."))
    _check_throttle(session, user=user, client_address=client_address, settings=settings)
    step = _matching_step(credential.secret, code)
    if step is None:
        raise _fail(
            session,
            user=user,
            client_address=client_address,
            action="account.mfa_enrol_failed",
            reason="wrong_code",
        )
    credential.confirmed_at = utcnow()
    credential.last_used_step = step
    codes = _new_recovery_codes(session, user=user)
    _audit_step(session, user, "account.mfa_enabled", client_address)
    return codes


def regenerate_recovery_codes(
    session: Session, *, user: User, code: str, client_address: str, settings: Settings
) -> list[str]:
    """Replace every recovery code with ten new ones (the old ones stop working), once the user
    has given a current code (or a recovery code)."""
    verify(session, user=user, code=code, client_address=client_address, settings=settings)
    if not is_enabled(session, user=user):
        raise Conflict(_("Two-step sign-in is not set up for this account."))
    codes = _new_recovery_codes(session, user=user)
    audit_service.record_own(session, user=user, action="account.mfa_recovery_codes_regenerated")
    return codes


def remaining_recovery_codes(session: Session, *, user: User) -> int:
    rows = session.scalars(
        select(MfaRecoveryCode.id).where(
            MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None)
        )
    ).all()
    return len(rows)


def disable(
    session: Session, *, user: User, code: str, client_address: str, settings: Settings
) -> None:
    """Turn one's own MFA off (only where it is optional: patients, or staff when not required),
    once the user has given a current code (or a recovery code)."""
    verify(session, user=user, code=code, client_address=client_address, settings=settings)
    if is_required(user, settings):
        raise Forbidden(_("Two-step sign-in is required for your role and cannot be turned off."))
    _remove(session, user_id=user.id)
    audit_service.record_own(session, user=user, action="account.mfa_disabled")


def _remove(session: Session, *, user_id: uuid.UUID) -> None:
    session.execute(delete(MfaCredential).where(MfaCredential.user_id == user_id))
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    session.execute(delete(MfaChallenge).where(MfaChallenge.user_id == user_id))
    session.flush()


def reset(session: Session, *, actor: User, user_id: uuid.UUID) -> User:
    """Admin: remove a user's second factor (lost phone); their sessions end, and staff enrol
    again at their next sign-in."""
    access.require_role(
        session,
        actor=actor,
        roles=(Role.admin,),
        action="account.mfa_reset",
        message=_("Only an administrator can reset two-step sign-in."),
        record_type="user",
        record_id=user_id,
    )
    user = get_user(session, user_id)
    _remove(session, user_id=user.id)
    end_all_sessions(session, user_id=user.id)
    audit_service.record_user(session, actor=actor, action="account.mfa_reset", user=user)
    return user


# --- sign-in -------------------------------------------------------------------------------------


def start_challenge(session: Session, *, user: User) -> str:
    """After a correct password: a short-lived token that the second factor redeems."""
    # Challenges left unanswered are cleared here rather than by a sweep.
    session.execute(
        delete(MfaChallenge).where(
            MfaChallenge.user_id == user.id, MfaChallenge.expires_at <= utcnow()
        )
    )
    return issue_token(
        session, MfaChallenge, user=user, lifetime=timedelta(minutes=CHALLENGE_MINUTES)
    )


def _live_challenge(session: Session, *, token: str, lock: bool = False) -> MfaChallenge | None:
    if not token or len(token) > 200:
        return None
    stmt = select(MfaChallenge).where(MfaChallenge.token_hash == hash_token(token))
    row = session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None or row.expires_at <= utcnow():
        return None
    return row


def challenge_user(session: Session, *, token: str) -> User | None:
    """The (active) user a live sign-in challenge belongs to, or None."""
    row = _live_challenge(session, token=token)
    user = session.get(User, row.user_id) if row is not None else None
    return user if user is not None and user.is_active else None


def verify(
    session: Session, *, user: User, code: str, client_address: str, settings: Settings
) -> str:
    """Check a TOTP code or a recovery code for ``user`` under throttling; which kind was used.
    Raises NotAuthenticated for a wrong, replayed or already used code (audited, counted)."""
    _check_throttle(session, user=user, client_address=client_address, settings=settings)
    credential = session.scalar(
        select(MfaCredential).where(MfaCredential.user_id == user.id).with_for_update()
    )
    if credential is None or credential.confirmed_at is None:
        raise NotAuthenticated(_(CHALLENGE_EXPIRED))
    step = _matching_step(credential.secret, code)
    if step is not None:
        if credential.last_used_step is not None and step <= credential.last_used_step:
            # The same (or an older) code seen again: someone may be replaying it.
            raise _fail(
                session,
                user=user,
                client_address=client_address,
                action="auth.mfa_failed",
                reason="code_replayed",
            )
        credential.last_used_step = step
        return "totp"
    normalised = _normalise_recovery_code(code)
    row = None
    if len(normalised) == 10:
        row = session.scalar(
            select(MfaRecoveryCode)
            .where(
                MfaRecoveryCode.user_id == user.id,
                MfaRecoveryCode.code_hash == hash_token(normalised),
            )
            .with_for_update()
        )
        if row is not None and row.used_at is None:
            row.used_at = utcnow()
            _audit_step(session, user, "auth.mfa_recovery_code_used", client_address)
            return "recovery_code"
    raise _fail(
        session,
        user=user,
        client_address=client_address,
        action="auth.mfa_failed",
        # A recovery code found but spent, or no code that matches.
        reason="recovery_code_reused" if row is not None else "wrong_code",
    )


def complete_challenge(
    session: Session, *, token: str, code: str, client_address: str, settings: Settings
) -> User:
    """Redeem a sign-in challenge with the second factor; the user, now fully signed in."""
    row = _live_challenge(session, token=token, lock=True)
    if row is None:
        raise NotAuthenticated(_(CHALLENGE_EXPIRED))
    user = get_user(session, row.user_id)
    if not user.is_active:
        raise NotAuthenticated(_(CHALLENGE_EXPIRED))
    method = verify(session, user=user, code=code, client_address=client_address, settings=settings)
    session.delete(row)
    user.last_login_at = utcnow()
    _audit_step(session, user, "auth.login", client_address, second_factor=method)
    return user
