"""Who is calling: session cookies or bearer tokens, role checks, CSRF protection."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role, User
from medconsult.config import Settings, get_settings
from medconsult.db import SessionDep
from medconsult.errors import CSRFError, Forbidden, NotAuthenticated
from medconsult.i18n import _

CSRF_COOKIE = "medconsult_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix pins the cookie to this host and path, but needs Secure.
    return "__Host-medconsult_session" if settings.secure_cookies else "medconsult_session"


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie_name(settings),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def session_token(request: Request) -> str | None:
    settings = get_settings()
    return _bearer_token(request) or request.cookies.get(session_cookie_name(settings))


def get_optional_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in user, resolved once per request, or None."""
    if hasattr(request.state, "user"):
        user: User | None = request.state.user
        return user
    token = session_token(request)
    active = (
        accounts_service.resolve_session(session, token=token, settings=get_settings())
        if token
        else None
    )
    request.state.user = active.user if active else None
    request.state.session_id = active.session_id if active else None
    return request.state.user  # type: ignore[no-any-return]


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated(_("Please sign in to continue."))
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: Role) -> object:
    def dependency(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(_("You do not have access to this page."))
        return user

    return Depends(dependency)


PatientUser = Annotated[User, require_role(Role.patient)]
DoctorUser = Annotated[User, require_role(Role.doctor)]
AdminUser = Annotated[User, require_role(Role.admin)]


# --- CSRF -------------------------------------------------------------------------------------


def _signed(value: str) -> str:
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + value.encode(), hashlib.sha256).hexdigest()


def ensure_csrf_cookie(request: Request) -> str:
    """The browser's CSRF secret (set in a cookie by the CSRF middleware if missing)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = value
    return value


def csrf_token(request: Request) -> str:
    """The token to embed in forms and send in the X-CSRF-Token header."""
    return _signed(ensure_csrf_cookie(request))


def _same_origin(request: Request, origin: str) -> bool:
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:
        return False
    host = request.headers.get("host", "")
    if parts.netloc == host:
        return True
    return origin.rstrip("/") in {o.rstrip("/") for o in get_settings().allowed_origins}


async def verify_csrf(request: Request) -> None:
    """Refuse cross-site state changes: Origin check, then a form or header token.

    Requests authenticated by a bearer token carry no ambient credentials and need no token.
    """
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and origin != "null" and not _same_origin(request, origin):
        raise CSRFError(_("This request came from another site and was refused."))
    if origin == "null":
        raise CSRFError(_("This request came from another site and was refused."))
    if _bearer_token(request):
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    content_type = request.headers.get("content-type", "")
    has_session_cookie = session_cookie_name(get_settings()) in request.cookies
    is_form = content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
    if not (has_session_cookie or is_form or cookie):
        # A non-browser client with no cookies at all: nothing ambient to abuse.
        return
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and is_form:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        supplied = field if isinstance(field, str) else None
    if not cookie or not supplied or not hmac.compare_digest(supplied, _signed(cookie)):
        raise CSRFError(
            _("Your form has expired or was not sent from this site. Please try again.")
        )


CSRFProtect = Depends(verify_csrf)
