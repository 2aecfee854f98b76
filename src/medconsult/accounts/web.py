"""Account pages: sign in (with a second factor), register, sign out, passwords, MFA set-up."""

from __future__ import annotations

from typing import Annotated, Protocol
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from medconsult.accounts import mfa
from medconsult.accounts import service as accounts_service
from medconsult.accounts.http import client_address, sign_in_context, start_session
from medconsult.accounts.models import User
from medconsult.auth import (
    OptionalUser,
    SignedInUser,
    clear_session_cookie,
    delete_private_cookie,
    session_token,
    set_private_cookie,
    set_session_cookie,
)
from medconsult.config import Settings, get_settings
from medconsult.db import SessionDep
from medconsult.errors import (
    Conflict,
    Forbidden,
    MedconsultError,
    NotAuthenticated,
    TooManyRequests,
    ValidationFailed,
)
from medconsult.i18n import _
from medconsult.web.templating import redirect, redirect_to, render, url_path

router = APIRouter(include_in_schema=False)

FormStr = Annotated[str, Form(max_length=1024)]
CodeStr = Annotated[str, Form(max_length=64)]
Short = Annotated[str, Field(max_length=1024)]


class LoginForm(BaseModel):
    email: Short = ""
    password: Short = ""
    next: Short = "/"


class RegisterForm(BaseModel):
    email: Short = ""
    password: Short = ""
    password_confirm: Short = ""
    full_name: Annotated[str, Field(max_length=200)] = ""


class NewPasswordForm(BaseModel):
    new_password: Short = ""
    new_password_confirm: Short = ""

    def check_confirmed(self) -> None:
        if self.new_password != self.new_password_confirm:
            raise ValidationFailed({"new_password_confirm": _("The two passwords do not match.")})


class PasswordChangeForm(NewPasswordForm):
    current_password: Short = ""


# The pending second factor of a web sign-in (the raw challenge token; only its hash is stored).
MFA_COOKIE = "medconsult_mfa"


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: never an open redirect.
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return urlsplit(target).path or "/"


def _sign_in_refused(
    request: Request, template: str, exc: MedconsultError, next: str, **context: str
) -> Response:
    """The sign-in step's form again, with the refusal. The service has counted and audited
    the failure (kept past the rollback); throttling depends on that count."""
    context.update(error=exc.message, next=_safe_next(next))
    return render(request, template, context, status_code=exc.status_code)


@router.get("/login", name="accounts:login")
def login_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return redirect_to(request, "home")
    return render(request, "accounts/login.html", {"next": _safe_next(next)})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    form: Annotated[LoginForm, Form()],
) -> Response:
    settings = get_settings()
    email, next = form.email, form.next
    try:
        user = accounts_service.authenticate(
            session, email=email, password=form.password, **sign_in_context(request)
        )
    except (NotAuthenticated, TooManyRequests) as exc:
        return _sign_in_refused(request, "accounts/login.html", exc, next, email=email[:254])
    if accounts_service.mfa_enabled(session, user_id=user.id):
        challenge = mfa.start_challenge(session, user=user)
        response = redirect_to(request, "accounts:login_mfa", query={"next": _safe_next(next)})
        set_private_cookie(
            response, MFA_COOKIE, challenge, settings, max_age=mfa.CHALLENGE_MINUTES * 60
        )
        return response
    return _signed_in(request, session, user, next, settings)


def _signed_in(
    request: Request, session: SessionDep, user: User, next: str, settings: Settings
) -> Response:
    token = start_session(request, session, user=user, settings=settings)
    if user.must_change_password:
        target = url_path(request, "accounts:password")
    elif mfa.enrolment_pending(session, user=user, settings=settings):
        target = url_path(request, "accounts:mfa")
    else:
        target = _safe_next(next)
    response = redirect(request, target)
    set_session_cookie(response, token, settings)
    delete_private_cookie(response, MFA_COOKIE, settings)
    return response


@router.get("/login/mfa", name="accounts:login_mfa")
def login_mfa_page(request: Request, session: SessionDep, next: str | None = None) -> Response:
    if mfa.challenge_user(session, token=request.cookies.get(MFA_COOKIE, "")) is None:
        return redirect_to(request, "accounts:login")
    return render(request, "accounts/login_mfa.html", {"next": _safe_next(next)})


@router.post("/login/mfa")
def login_mfa(
    request: Request, session: SessionDep, code: CodeStr = "", next: FormStr = "/"
) -> Response:
    try:
        user = mfa.complete_challenge(
            session,
            token=request.cookies.get(MFA_COOKIE, ""),
            code=code,
            **sign_in_context(request),
        )
    except (NotAuthenticated, TooManyRequests) as exc:
        return _sign_in_refused(request, "accounts/login_mfa.html", exc, next)
    return _signed_in(request, session, user, next, get_settings())


@router.post("/logout", name="accounts:logout")
def logout(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    token = session_token(request)
    if token:
        accounts_service.end_session(session, token=token, actor=user)
    response = redirect_to(request, "accounts:login")
    clear_session_cookie(response, get_settings())
    return response


@router.get("/register", name="accounts:register")
def register_page(request: Request, user: OptionalUser) -> Response:
    if user is not None:
        return redirect_to(request, "home")
    return render(request, "accounts/register.html", {"errors": {}, "values": {}})


@router.post("/register")
def register(
    request: Request,
    session: SessionDep,
    form: Annotated[RegisterForm, Form()],
) -> Response:
    email, password, full_name = form.email, form.password, form.full_name
    values = {"email": email[:254], "full_name": full_name}
    errors: dict[str, str] = {}
    if password != form.password_confirm:
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
        session, user=user, settings=settings, client_address=client_address(request)
    )
    response = redirect_to(request, "patients:profile")
    set_session_cookie(response, token, settings)
    return response


@router.get("/account/password", name="accounts:password")
def password_page(request: Request, user: SignedInUser) -> Response:
    return render(request, "accounts/password.html", {"errors": {}})


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    user: SignedInUser,
    form: Annotated[PasswordChangeForm, Form()],
) -> Response:
    try:
        form.check_confirmed()
        accounts_service.change_password(
            session, user=user, current=form.current_password, new=form.new_password
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
    form: Annotated[NewPasswordForm, Form()],
) -> Response:
    try:
        form.check_confirmed()
        accounts_service.use_password_token(session, token=token, new_password=form.new_password)
    except ValidationFailed as exc:
        return render(
            request,
            "accounts/set_password.html",
            {"token": token[:200], "errors": exc.errors},
            status_code=422,
        )
    return render(request, "accounts/password_changed.html")


# --- two-step sign-in (TOTP) set-up: open to staff who still have to enrol ----------------------


def _no_store(response: Response) -> Response:
    # Secrets and recovery codes on the page: never cached.
    response.headers["Cache-Control"] = "no-store"
    return response


def _mfa_page(
    request: Request, session: SessionDep, user: User, refusal: MedconsultError | None = None
) -> Response:
    """The MFA set-up page: with a step's refusal, or the message that MFA is now off."""
    settings = get_settings()
    enabled = mfa.is_enabled(session, user=user)
    turned_off = refusal is None and request.query_params.get("done") == "off"
    context = {
        "enabled": enabled,
        "required": mfa.is_required(user, settings),
        "error": refusal.message if refusal else None,
        "done": _("Two-step sign-in is off.") if turned_off else None,
        "remaining": mfa.remaining_recovery_codes(session, user=user) if enabled else 0,
    }
    if not enabled:
        enrolment = mfa.begin_enrolment(session, user=user)
        # Our own SVG from segno (no user input in it): safe to embed as markup.
        context.update(secret=enrolment.secret, qr_svg=Markup(enrolment.qr_svg()))
    status_code = refusal.status_code if refusal else 200
    return _no_store(render(request, "accounts/mfa.html", context, status_code=status_code))


@router.get("/account/mfa", name="accounts:mfa")
def mfa_page(request: Request, session: SessionDep, user: SignedInUser) -> Response:
    return _mfa_page(request, session, user)


# An MFA set-up step's refusals: each is shown on the MFA page.
MFA_REFUSALS = (NotAuthenticated, TooManyRequests, Conflict, Forbidden)


class IssueCodes(Protocol):
    """``mfa.confirm_enrolment`` and ``mfa.regenerate_recovery_codes``."""

    def __call__(
        self, session: Session, *, user: User, code: str, client_address: str, settings: Settings
    ) -> list[str]: ...


def _issue_recovery_codes(
    request: Request, session: SessionDep, user: User, code: str, issue: IssueCodes
) -> Response:
    """Run a step that checks the user's code and issues recovery codes: the codes (shown only
    now), or the MFA page with the step's refusal."""
    try:
        codes = issue(session, user=user, code=code, **sign_in_context(request))
    except MFA_REFUSALS as exc:
        return _mfa_page(request, session, user, exc)
    return _no_store(render(request, "accounts/mfa_recovery_codes.html", {"codes": codes}))


@router.post("/account/mfa/confirm", name="accounts:mfa_confirm")
def mfa_confirm(
    request: Request, session: SessionDep, user: SignedInUser, code: CodeStr = ""
) -> Response:
    return _issue_recovery_codes(request, session, user, code, mfa.confirm_enrolment)


@router.post("/account/mfa/recovery-codes", name="accounts:mfa_recovery_codes")
def mfa_new_recovery_codes(
    request: Request, session: SessionDep, user: SignedInUser, code: CodeStr = ""
) -> Response:
    return _issue_recovery_codes(request, session, user, code, mfa.regenerate_recovery_codes)


@router.post("/account/mfa/disable", name="accounts:mfa_disable")
def mfa_disable(
    request: Request, session: SessionDep, user: SignedInUser, code: CodeStr = ""
) -> Response:
    try:
        mfa.disable(session, user=user, code=code, **sign_in_context(request))
    except MFA_REFUSALS as exc:
        return _mfa_page(request, session, user, exc)
    return redirect_to(request, "accounts:mfa", query={"done": "off"})
