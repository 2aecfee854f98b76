"""Pure ASGI middleware: request size limit, client address, CSRF cookie, security and cache
headers, and the last-resort error page."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medconsult import i18n
from medconsult.audit.service import client_address_var
from medconsult.auth import CSRF_COOKIE
from medconsult.config import get_settings
from medconsult.i18n import _
from medconsult.metrics import REQUEST_SECONDS, REQUESTS_REFUSED_BUSY
from medconsult.web.errors import error_response
from medconsult.web.language import LANGUAGE_COOKIE

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # No external CDN: everything comes from this origin.
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class RequestTooLarge(HTTPException):
    """A body that grew past the limit while it was read (chunked, or a lying Content-Length).

    An HTTPException so that FastAPI's body parser passes it on instead of calling it a 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return _("The request is too large (limit %(limit)d MB).") % {"limit": limit // (1024 * 1024)}


# Paths that never touch the database and must answer even when the service is busy.
_ADMISSION_EXEMPT = ("/static/", "/healthz", "/metrics")


class AdmissionLimit:
    """At most ``settings.max_requests_in_flight`` requests inside the app at once (default:
    the connection pool's size); the threadpool has a thread for each plus the pool's
    overflow, so an admitted request always finds a thread for its next step. A request that
    waits longer than the pool time-out is answered 503 with Retry-After, having done nothing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._slots: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            settings = get_settings()
            # Never more than the threadpool's threads (pool size + overflow, see main.lifespan):
            # past that, the deadlock this class exists to prevent comes back.
            threads = settings.db_pool_size + settings.db_max_overflow
            self._slots = asyncio.Semaphore(
                min(settings.max_requests_in_flight or settings.db_pool_size, threads)
            )
        return self._slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_ADMISSION_EXEMPT):
            await self.app(scope, receive, send)
            return
        slots = self._semaphore()
        settings = get_settings()
        try:
            await asyncio.wait_for(slots.acquire(), timeout=settings.db_pool_timeout_seconds)
        except TimeoutError:
            REQUESTS_REFUSED_BUSY.inc()
            request = Request(scope, receive)
            request.state.viewer = None  # no database look-up for a page about being busy
            response = busy_response(request)
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()


def busy_response(request: Request) -> Response:
    """503 with Retry-After: the service is busy and nothing was changed."""
    retry = get_settings().busy_retry_after_seconds
    message = _(
        "The service is busy right now and nothing was changed. Please try again in a few seconds."
    )
    return error_response(request, 503, "busy", message, {"retry_after": retry})


class PlatformMiddleware:
    """Everything the app wants around each HTTP request, in one pass."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        limit = settings.max_request_bytes
        # Error pages rendered here (413, 500) may be sent before the router has seen the request.
        if "app" in scope and hasattr(scope["app"], "router"):
            scope.setdefault("router", scope["app"].router)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        client = scope.get("client")
        token = client_address_var.set(client[0] if client else None)
        # Until the user is known (their saved preference wins: web.language), the switcher's
        # cookie or the browser's languages; an error page sent from here speaks the same.
        locale_token = i18n.current_locale.set(
            i18n.choose_locale(
                preference=None,
                cookie=cookie_parser(headers.get("cookie", "")).get(LANGUAGE_COOKIE),
                accept_language=headers.get("accept-language"),
            )
        )
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            await self._reject_too_large(scope, receive, send, limit)
            client_address_var.reset(token)
            i18n.current_locale.reset(locale_token)
            return

        received = 0
        response_started = False
        status_code = 500
        started = time.perf_counter()

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge(limit)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started, status_code
            if message["type"] == "http.response.start":
                response_started = True
                status_code = int(message["status"])
                out = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    out.setdefault(name, value)
                if not scope["path"].startswith("/static/"):
                    # Pages and API answers carry patient or admin data: never keep a copy in a
                    # browser or proxy cache (shared clinic computers, the back button).
                    out["cache-control"] = "no-store"
                    out.setdefault("pragma", "no-cache")
                state: dict[str, Any] = scope.get("state", {})
                new_csrf = state.get("new_csrf_cookie")
                sets_csrf = any(
                    value.startswith(f"{CSRF_COOKIE}=") for value in out.getlist("set-cookie")
                )
                if new_csrf and not sets_csrf and CSRF_COOKIE not in headers.get("cookie", ""):
                    secure = "; Secure" if settings.secure_cookies else ""
                    out.append(
                        "set-cookie",
                        f"{CSRF_COOKIE}={new_csrf}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except RequestTooLarge:
            if not response_started:
                await self._reject_too_large(scope, receive, send_with_headers, limit)
        except Exception:
            # Anything the app's handlers did not turn into a response: log it and answer with
            # the site's own error page (never a stack trace, never a blank page).
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not response_started:
                await self._server_error(scope, receive, send_with_headers)
        finally:
            client_address_var.reset(token)
            i18n.current_locale.reset(locale_token)
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUEST_SECONDS.labels(
                scope.get("method", ""), route, f"{status_code // 100}xx"
            ).observe(time.perf_counter() - started)

    @staticmethod
    async def _reject_too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        message = too_large_message(limit)
        response = error_response(Request(scope, receive), 413, "payload_too_large", message)
        response.headers["connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)

    @staticmethod
    async def _server_error(scope: Scope, receive: Receive, send: Send) -> None:
        message = _(
            "Something went wrong on our side and nothing was saved. Please try again in a moment."
        )
        response = error_response(Request(scope, receive), 500, "server_error", message)
        await response(scope, receive, send)
