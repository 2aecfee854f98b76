"""Account pages: sign in, register, sign out, change password, set password by link."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from medconsult.accounts import service as accounts_service
from medconsult.auth import (
    CurrentUser,
    OptionalUser,
    clear_session_cookie,
    session_token,
    set_session_cookie,
)
from medconsult.config import get_settings
from medconsult.db import SessionDep
from medconsult.errors import NotAuthenticated, TooManyRequests, ValidationFailed
from medconsult.i18n import _
from medconsult.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

FormStr = Annotated[str, Form(max_length=1024)]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: never an open redirect.
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return urlsplit(target).path or "/"


@router.get("/login", name="accounts:login")
def login_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return redirect(request, "/")
    return render(request, "accounts/login.html", {"next": _safe_next(next)})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: FormStr = "",
    password: FormStr = "",
    next: FormStr = "/",
) -> Response:
    settings = get_settings()
    try:
        user = accounts_service.authenticate(
            session,
            email=email,
            password=password,
            client_address=_client(request),
            settings=settings,
        )
    except (NotAuthenticated, TooManyRequests) as exc:
        # The failure is recorded (throttling counts it): the page re-renders, which commits.
        return render(
            request,
            "accounts/login.html",
            {"error": exc.message, "email": email[:254], "next": _safe_next(next)},
            status_code=exc.status_code,
        )
    token = accounts_service.start_session(
        session,
        user=user,
        settings=settings,
        client_address=_client(request),
        user_agent=request.headers.get("user-agent"),
    )
    response = redirect(
        request, "/account/password" if user.must_change_password else _safe_next(next)
    )
    set_session_cookie(response, token, settings)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    token = session_token(request)
    if token:
        accounts_service.end_session(session, token=token, actor=user)
    response = redirect(request, "/login")
    clear_session_cookie(response, get_settings())
    return response


@router.get("/register", name="accounts:register")
def register_page(request: Request, user: OptionalUser) -> Response:
    if user is not None:
        return redirect(request, "/")
    return render(request, "accounts/register.html", {"errors": {}, "values": {}})


@router.post("/register")
def register(
    request: Request,
    session: SessionDep,
    email: FormStr = "",
    password: FormStr = "",
    password_confirm: FormStr = "",
    full_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    values = {"email": email[:254], "full_name": full_name}
    errors: dict[str, str] = {}
    if password != password_confirm:
        errors["password_confirm"] = _("The two passwords do not match.")
    try:
        accounts_service.check_new_account(session, email=email, password=password)
    except ValidationFailed as exc:
        errors = {**exc.errors, **errors}
    if errors:
        return render(
            request,
            "accounts/register.html",
            {"errors": errors, "values": values},
            status_code=422,
        )
    user = accounts_service.register_patient(
        session, email=email, password=password, full_name=full_name
    )
    settings = get_settings()
    token = accounts_service.start_session(
        session, user=user, settings=settings, client_address=_client(request)
    )
    response = redirect(request, "/profile")
    set_session_cookie(response, token, settings)
    return response


@router.get("/account/password", name="accounts:password")
def password_page(request: Request, user: CurrentUser) -> Response:
    return render(request, "accounts/password.html", {"errors": {}})


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    current_password: FormStr = "",
    new_password: FormStr = "",
    new_password_confirm: FormStr = "",
) -> Response:
    try:
        if new_password != new_password_confirm:
            raise ValidationFailed({"new_password_confirm": _("The two passwords do not match.")})
        accounts_service.change_password(
            session, user=user, current=current_password, new=new_password
        )
    except ValidationFailed as exc:
        return render(request, "accounts/password.html", {"errors": exc.errors}, status_code=422)
    # Every session ended, this one too: sign in again with the new password.
    response = render(request, "accounts/password_changed.html")
    clear_session_cookie(response, get_settings())
    return response


@router.get("/set-password/{token}", name="accounts:set_password")
def set_password_page(request: Request, token: str) -> Response:
    return render(request, "accounts/set_password.html", {"token": token[:200], "errors": {}})


@router.post("/set-password/{token}")
def set_password(
    request: Request,
    session: SessionDep,
    token: str,
    new_password: FormStr = "",
    new_password_confirm: FormStr = "",
) -> Response:
    try:
        if new_password != new_password_confirm:
            raise ValidationFailed({"new_password_confirm": _("The two passwords do not match.")})
        accounts_service.use_password_token(session, token=token, new_password=new_password)
    except ValidationFailed as exc:
        return render(
            request,
            "accounts/set_password.html",
            {"token": token[:200], "errors": exc.errors},
            status_code=422,
        )
    return render(request, "accounts/password_changed.html")
