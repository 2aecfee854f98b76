"""``/metrics`` in the Prometheus text format, for the configured addresses or the token.

Anyone else gets 404: the endpoint's existence is not advertised.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from medconsult.config import get_settings
from medconsult.errors import NotFound
from medconsult.i18n import _
from medconsult.metrics import scrape_registry

router = APIRouter(include_in_schema=False)


def _allowed(request: Request) -> bool:
    settings = get_settings()
    header = request.headers.get("authorization", "")
    if settings.metrics_token is not None and header.lower().startswith("bearer "):
        expected = settings.metrics_token.get_secret_value()
        return hmac.compare_digest(header[7:].strip(), expected)
    client = request.client.host if request.client else None
    return client is not None and client in settings.metrics_allowed_addresses


@router.get("/metrics")
def metrics(request: Request) -> Response:
    if not _allowed(request):
        raise NotFound(_("Page not found."))
    return Response(generate_latest(scrape_registry()), media_type=CONTENT_TYPE_LATEST)
