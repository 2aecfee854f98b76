"""Pure ASGI middleware: request size limit, client address, CSRF cookie, security headers."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medconsult import i18n
from medconsult.audit.service import client_address_var
from medconsult.auth import CSRF_COOKIE
from medconsult.config import get_settings

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


class _TooLarge(Exception):
    pass


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
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        client = scope.get("client")
        token = client_address_var.set(client[0] if client else None)
        locale_token = i18n.current_locale.set(
            i18n.negotiate_locale(headers.get("accept-language"))
        )
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            await self._reject_too_large(scope, send, limit)
            client_address_var.reset(token)
            i18n.current_locale.reset(locale_token)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                out = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    out.setdefault(name, value)
                state: dict[str, Any] = scope.get("state", {})
                new_csrf = state.get("new_csrf_cookie")
                if new_csrf and CSRF_COOKIE not in headers.get("cookie", ""):
                    secure = "; Secure" if settings.secure_cookies else ""
                    out.append(
                        "set-cookie",
                        f"{CSRF_COOKIE}={new_csrf}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _TooLarge:
            if not response_started:
                await self._reject_too_large(scope, send, limit)
        finally:
            client_address_var.reset(token)
            i18n.current_locale.reset(locale_token)

    @staticmethod
    async def _reject_too_large(scope: Scope, send: Send, limit: int) -> None:
        message = f"The request is too large (limit {limit // (1024 * 1024)} MB)."
        body = json.dumps({"error": {"code": "payload_too_large", "message": message}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
