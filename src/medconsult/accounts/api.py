"""Account JSON API: the same services as the pages."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from medconsult.accounts import mfa
from medconsult.accounts import service as accounts_service
from medconsult.accounts.http import sign_in_context, start_session
from medconsult.accounts.models import User
from medconsult.accounts.schemas import (
    LoginRequest,
    MeRead,
    MfaChallengeStarted,
    MfaCode,
    MfaEnrolmentRead,
    MfaVerify,
    PasswordChange,
    RecoveryCodes,
    RegisterRequest,
    SessionStarted,
    UserRead,
)
from medconsult.auth import (
    OptionalUser,
    SignedInUser,
    clear_session_cookie,
    csrf_token,
    session_token,
    set_session_cookie,
)
from medconsult.config import get_settings
from medconsult.db import SessionDep

router = APIRouter(prefix="/auth", tags=["auth"])


def _started(
    request: Request, response: Response, session: SessionDep, user: User
) -> SessionStarted:
    settings = get_settings()
    token = start_session(request, session, user=user, settings=settings)
    set_session_cookie(response, token, settings)
    return SessionStarted(
        user=UserRead.model_validate(user), token=token, csrf_token=csrf_token(request)
    )


@router.post("/login", response_model=SessionStarted | MfaChallengeStarted)
def login(
    body: LoginRequest, request: Request, response: Response, session: SessionDep
) -> SessionStarted | MfaChallengeStarted:
    """Password sign-in. An account with a second factor gets a challenge, not a session."""
    # A failure rolls the request back; the service keeps its throttling count and audit event.
    user = accounts_service.authenticate(
        session, email=body.email, password=body.password, **sign_in_context(request)
    )
    if accounts_service.mfa_enabled(session, user_id=user.id):
        return MfaChallengeStarted(
            challenge_token=mfa.start_challenge(session, user=user),
            expires_in_seconds=mfa.CHALLENGE_MINUTES * 60,
        )
    return _started(request, response, session, user)


@router.post("/mfa", response_model=SessionStarted)
def login_second_factor(
    body: MfaVerify, request: Request, response: Response, session: SessionDep
) -> SessionStarted:
    """Redeem a login challenge with a TOTP or recovery code; the session (bearer token)."""
    user = mfa.complete_challenge(
        session, token=body.challenge_token, code=body.code, **sign_in_context(request)
    )
    return _started(request, response, session, user)


@router.post("/mfa/enrolment", response_model=MfaEnrolmentRead)
def mfa_enrolment(session: SessionDep, user: SignedInUser) -> MfaEnrolmentRead:
    """Begin setting up TOTP: the secret for an authenticator app (unconfirmed until a code)."""
    enrolment = mfa.begin_enrolment(session, user=user)
    return MfaEnrolmentRead(secret=enrolment.secret, otpauth_uri=enrolment.uri)


@router.post("/mfa/enrolment/confirm", response_model=RecoveryCodes)
def mfa_enrolment_confirm(
    body: MfaCode, request: Request, session: SessionDep, user: SignedInUser
) -> RecoveryCodes:
    """Turn TOTP on with a first code; the ten one-time recovery codes, shown only now."""
    codes = mfa.confirm_enrolment(session, user=user, code=body.code, **sign_in_context(request))
    return RecoveryCodes(recovery_codes=codes)


@router.post("/register", response_model=SessionStarted, status_code=201)
def register(
    body: RegisterRequest, request: Request, response: Response, session: SessionDep
) -> SessionStarted:
    user = accounts_service.register_patient(
        session, email=body.email, password=body.password, full_name=body.full_name
    )
    return _started(request, response, session, user)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, session: SessionDep, user: OptionalUser) -> None:
    token = session_token(request)
    if token:
        accounts_service.end_session(session, token=token, actor=user)
    clear_session_cookie(response, get_settings())


@router.get("/me", response_model=MeRead)
def me(request: Request, user: SignedInUser) -> MeRead:
    return MeRead(user=UserRead.model_validate(user), csrf_token=csrf_token(request))


@router.post("/password", status_code=204)
def change_password(
    body: PasswordChange, response: Response, session: SessionDep, user: SignedInUser
) -> None:
    accounts_service.change_password(
        session, user=user, current=body.current_password, new=body.new_password
    )
    clear_session_cookie(response, get_settings())
