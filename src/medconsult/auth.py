"""Who is calling: session cookies or bearer tokens, role checks, CSRF protection."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from sqlalchemy.exc import SQLAlchemyError

from medconsult import access
from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role, User
from medconsult.config import Settings, get_settings
from medconsult.db import SessionDep
from medconsult.errors import CSRFError, MfaEnrolmentRequired, NotAuthenticated
from medconsult.i18n import _

log = logging.getLogger(__name__)

CSRF_COOKIE = "medconsult_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix pins the cookie to this host and path, but needs Secure.
    return "__Host-medconsult_session" if settings.secure_cookies else "medconsult_session"


def set_private_cookie(
    response: Response, name: str, value: str, settings: Settings, *, max_age: int | None = None
) -> None:
    """Set a site-wide cookie that scripts cannot read and other sites do not get sent."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def delete_private_cookie(response: Response, name: str, settings: Settings) -> None:
    """Remove a cookie set by ``set_private_cookie``."""
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies
    )


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    set_private_cookie(
        response,
        session_cookie_name(settings),
        token,
        settings,
        max_age=settings.session_absolute_hours * 3600,
    )
    # A new session gets a new CSRF secret: a token seen before sign-in is worthless after it.
    rotate_csrf_cookie(response, settings)


def clear_session_cookie(response: Response, settings: Settings) -> None:
    delete_private_cookie(response, session_cookie_name(settings), settings)
    rotate_csrf_cookie(response, settings)


def rotate_csrf_cookie(response: Response, settings: Settings) -> None:
    set_private_cookie(response, CSRF_COOKIE, secrets.token_urlsafe(32), settings)


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def session_token(request: Request) -> str | None:
    settings = get_settings()
    return _bearer_token(request) or request.cookies.get(session_cookie_name(settings))


@dataclass(frozen=True)
class Viewer:
    """What pages show of the signed-in user: plain values, safe to read after a rollback."""

    id: uuid.UUID
    role: Role
    email: str
    full_name: str
    must_change_password: bool

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, user.role, user.email, user.full_name, user.must_change_password)


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
    # Captured now: an error page is rendered after the rollback has expired the ORM user.
    request.state.viewer = Viewer.of(active.user) if active else None
    return request.state.user  # type: ignore[no-any-return]


def resolve_viewer_late(request: Request) -> None:
    """Find the signed-in user for an error page raised before the request's own resolution
    (a body refused while it was read): a short read-only look-up, rolled back."""
    if hasattr(request.state, "viewer"):
        return
    request.state.viewer = None
    token = session_token(request)
    if not token:
        return
    try:
        with request.app.state.session_factory() as session:
            active = accounts_service.resolve_session(session, token=token, settings=get_settings())
            request.state.viewer = Viewer.of(active.user) if active else None
            session.rollback()  # an error page does not count as activity
    except SQLAlchemyError:
        log.warning("could not resolve the user for an error page", exc_info=True)


def current_viewer(request: Request) -> Viewer | None:
    """The signed-in user as pages show them: fresh when the ORM user is still readable (a
    route may have changed it), else as captured when the request began. A route that signed
    the user out sets ``request.state.user`` to None, and the page shows them signed out."""
    if hasattr(request.state, "user") and request.state.user is None:
        return None
    user = getattr(request.state, "user", None)
    if user is not None:
        try:
            return Viewer.of(user)
        except SQLAlchemyError:
            pass
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    return viewer


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_signed_in_user(user: OptionalUser) -> User:
    """The signed-in user, even one who still has to enrol a second factor (the MFA set-up,
    password and sign-out pages only)."""
    if user is None:
        raise NotAuthenticated(_("Please sign in to continue."))
    return user


SignedInUser = Annotated[User, Depends(get_signed_in_user)]


def get_current_user(session: SessionDep, user: SignedInUser) -> User:
    """The signed-in user; staff who must use two-step sign-in are sent to set it up first."""
    from medconsult.accounts import mfa

    if mfa.enrolment_pending(session, user=user, settings=get_settings()):
        raise MfaEnrolmentRequired(
            _("Set up two-step sign-in to continue: it is required for your role.")
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(*roles: Role) -> object:
    """A dependency: the current user, if their role may use the route (the access policy)."""

    def dependency(request: Request, session: SessionDep, user: CurrentUser) -> User:
        route = request.scope.get("route")
        access.require_role(
            session,
            actor=user,
            roles=roles,
            action="access.role_denied",
            details={"route": getattr(route, "path", request.url.path)[:200]},
        )
        return user

    return Depends(dependency)


PatientUser = Annotated[User, require_role(Role.patient)]
DoctorUser = Annotated[User, require_role(Role.doctor)]
AdminUser = Annotated[User, require_role(Role.admin)]


# --- CSRF -------------------------------------------------------------------------------------


def signed_csrf_token(value: str, session_cookie: str | None) -> str:
    """The token for a CSRF secret, bound to the session cookie it is used with: a token taken
    from one session (even with its CSRF cookie) is refused in any other."""
    key = get_settings().secret_key.get_secret_value().encode()
    binding = hashlib.sha256((session_cookie or "").encode()).hexdigest()
    message = b"csrf:" + value.encode() + b":" + binding.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _session_cookie(request: Request) -> str | None:
    return request.cookies.get(session_cookie_name(get_settings()))


def ensure_csrf_cookie(request: Request) -> str:
    """The browser's CSRF secret (set in a cookie by the CSRF middleware if missing)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = value
    return value


def csrf_token(request: Request) -> str:
    """The token to embed in forms and send in the X-CSRF-Token header."""
    return signed_csrf_token(ensure_csrf_cookie(request), _session_cookie(request))


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
    if (
        not cookie
        or not supplied
        or not hmac.compare_digest(supplied, signed_csrf_token(cookie, _session_cookie(request)))
    ):
        raise CSRFError(
            _("Your form has expired or was not sent from this site. Please try again.")
        )


CSRFProtect = Depends(verify_csrf)
