"""Error responses: JSON for the API, the site's error page for everything else.

Built only from values that survive a rollback (the viewer captured when the request began), so
an error page can never fail because the request's transaction was rolled back.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from medconsult.auth import resolve_viewer_late
from medconsult.web.templating import render


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in {"/healthz", "/readyz"}


def error_response(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The error as JSON (API) or as the site's error page, with Retry-After where it applies."""
    headers: dict[str, str] = {}
    if status_code in (429, 503) and extra and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if wants_json(request):
        body: dict[str, Any] = {"error": {"code": code, "message": message, **(extra or {})}}
        return JSONResponse(body, status_code=status_code, headers=headers)
    resolve_viewer_late(request)
    response = render(
        request,
        "error.html",
        {
            "status_code": status_code,
            "message": message,
            "fields": (extra or {}).get("fields") or {},
        },
        status_code=status_code,
    )
    response.headers.update(headers)
    return response
