"""Account JSON API: the same services as the pages."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import User
from medconsult.accounts.schemas import (
    LoginRequest,
    MeRead,
    PasswordChange,
    RegisterRequest,
    SessionStarted,
    UserRead,
)
from medconsult.auth import (
    CurrentUser,
    OptionalUser,
    clear_session_cookie,
    csrf_token,
    session_token,
    set_session_cookie,
)
from medconsult.config import get_settings
from medconsult.db import SessionDep

router = APIRouter(prefix="/auth", tags=["auth"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _started(
    request: Request, response: Response, session: SessionDep, user: User
) -> SessionStarted:
    settings = get_settings()
    token = accounts_service.start_session(
        session,
        user=user,
        settings=settings,
        client_address=_client(request),
        user_agent=request.headers.get("user-agent"),
    )
    set_session_cookie(response, token, settings)
    return SessionStarted(
        user=UserRead.model_validate(user), token=token, csrf_token=csrf_token(request)
    )


@router.post("/login", response_model=SessionStarted)
def login(
    body: LoginRequest, request: Request, response: Response, session: SessionDep
) -> SessionStarted:
    # A failure rolls the request back; the service keeps its throttling count and audit event.
    user = accounts_service.authenticate(
        session,
        email=body.email,
        password=body.password,
        client_address=_client(request),
        settings=get_settings(),
    )
    return _started(request, response, session, user)


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
def me(request: Request, user: CurrentUser) -> MeRead:
    return MeRead(user=UserRead.model_validate(user), csrf_token=csrf_token(request))


@router.post("/password", status_code=204)
def change_password(
    body: PasswordChange, response: Response, session: SessionDep, user: CurrentUser
) -> None:
    accounts_service.change_password(
        session, user=user, current=body.current_password, new=body.new_password
    )
    clear_session_cookie(response, get_settings())
