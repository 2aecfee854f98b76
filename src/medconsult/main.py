"""create_app(): routers, error handlers, middleware, lifespan."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from medconsult import health, metrics
from medconsult.accounts import api as accounts_api
from medconsult.accounts import web as accounts_web
from medconsult.admin import api as admin_api
from medconsult.admin import web as admin_web
from medconsult.auth import CSRFProtect, get_optional_user
from medconsult.config import get_settings
from medconsult.consultations import api as consultations_api
from medconsult.consultations import web as consultations_web
from medconsult.db import database_url, get_engine, session_factory
from medconsult.errors import (
    MedconsultError,
    MfaEnrolmentRequired,
    NotAuthenticated,
    TooManyRequests,
)
from medconsult.i18n import _
from medconsult.interview import api as interview_api
from medconsult.interview import web as interview_web
from medconsult.metrics import POOL_TIMEOUTS
from medconsult.middleware import AdmissionLimit, PlatformMiddleware, busy_response
from medconsult.notifications import api as notifications_api
from medconsult.notifications import web as notifications_web
from medconsult.patients import api as patients_api
from medconsult.patients import web as patients_web
from medconsult.records import api as records_api
from medconsult.records import web as records_web
from medconsult.review import api as review_api
from medconsult.review import web as review_web
from medconsult.web import language, metrics_route, pages
from medconsult.web.errors import error_response, wants_json
from medconsult.web.forms import field_messages
from medconsult.web.input_guard import InputGuard
from medconsult.web.language import apply_preferences
from medconsult.web.templating import STATIC_DIR, url_path

log = logging.getLogger(__name__)


# What Starlette's form parsers say when one field or file part passes their own limits.
_FIELD_TOO_LARGE_DETAILS = ("Part exceeded maximum size", "Field exceeded maximum size")


def _register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MedconsultError)
    async def medconsult_error(request: Request, exc: MedconsultError) -> Response:
        if (
            isinstance(exc, NotAuthenticated)
            and not wants_json(request)
            and request.method == "GET"
        ):
            login = url_path(request, "accounts:login", query={"next": request.url.path})
            return RedirectResponse(login, status_code=303)
        if (
            isinstance(exc, MfaEnrolmentRequired)
            and not wants_json(request)
            and request.method == "GET"
        ):
            return RedirectResponse(url_path(request, "accounts:mfa"), status_code=303)
        extra: dict[str, Any] = {}
        if exc.field:
            extra["field"] = exc.field
        if hasattr(exc, "errors"):
            extra["fields"] = exc.errors
        if isinstance(exc, TooManyRequests):
            extra["retry_after"] = exc.retry_after_seconds
        return error_response(request, exc.status_code, exc.code, exc.message, extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields = field_messages(exc.errors(), fallback="")
        message = "; ".join(f"{k or 'request'}: {v}" for k, v in fields.items()) or _(
            "Invalid input."
        )
        return error_response(request, 422, "validation_failed", message, {"fields": fields})

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def pool_exhausted(request: Request, exc: SQLAlchemyTimeoutError) -> Response:
        # Every connection is busy: nothing was done (the unit of work rolled back); ask the
        # client to come back shortly rather than wait for a connection that may not come.
        log.warning("database pool exhausted: %s", exc)
        POOL_TIMEOUTS.inc()
        return busy_response(request)

    @app.exception_handler(OperationalError)
    async def database_unreachable(request: Request, exc: OperationalError) -> Response:
        log.error("database unreachable: %s", exc)
        return busy_response(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:
            return error_response(request, 413, "payload_too_large", str(exc.detail))
        if exc.status_code == 400 and str(exc.detail).startswith(_FIELD_TOO_LARGE_DETAILS):
            # The form parser refuses any single text field over 1 MB before a route sees it;
            # every text field has a limit far below that, so say so plainly.
            message = _(
                "One of the text fields is far too long. Please keep each under "
                "%(limit)d characters and try again."
            ) % {"limit": get_settings().max_text_chars}
            return error_response(request, 413, "field_too_large", message)
        messages = {404: _("Page not found."), 405: _("Method not allowed.")}
        message = messages.get(exc.status_code, str(exc.detail))
        return error_response(request, exc.status_code, "http_error", message)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    # Sync routes run in anyio's threadpool (40 threads by default). More threads than
    # connections only queue on the pool; as many as the pool keeps the waiting in one place.
    anyio.to_thread.current_default_thread_limiter().total_tokens = (
        settings.db_pool_size + settings.db_max_overflow
    )
    if settings.env != "testing":
        # The interview's evidence model takes about a second to fit: not on a patient's click.
        from medconsult.interview import questionnaire

        threading.Thread(
            target=questionnaire.warm_up, name="interview-warm-up", daemon=True
        ).start()
    worker = None
    if app.state.start_worker:
        # The analysis worker runs beside the web server by default (one process to deploy);
        # `medconsult worker` runs more of them elsewhere, sharing the database.
        from medconsult.jobs.worker import ServeWorker, ServeWorkerProcess

        worker = (
            ServeWorkerProcess(database_url=database_url(settings))
            if settings.serve_worker_mode == "process"
            else ServeWorker()
        )
        worker.start()
    try:
        yield
    finally:
        if worker is not None:
            await asyncio.to_thread(worker.stop)


def create_app(
    *, factory: sessionmaker[Session] | None = None, start_worker: bool | None = None
) -> FastAPI:
    app = FastAPI(
        title="MedConsult",
        version="0.1.0",
        description=(
            "Online consultations with AI-assisted, doctor-reviewed diagnostic suggestions. "
            "AI output is decision support, never a diagnosis on its own."
        ),
        lifespan=lifespan,
        # The caller first, so that any error page, even for refused input, shows their navigation.
        dependencies=[
            Depends(get_optional_user),
            Depends(apply_preferences),
            InputGuard,
            CSRFProtect,
        ],
        docs_url="/api/docs",
        redoc_url=None,
    )
    # Resolved lazily so importing the app never starts a database.
    app.state.session_factory = factory or _LazyFactory()
    app.state.start_worker = (
        get_settings().run_worker_in_serve if start_worker is None else start_worker
    )
    app.add_middleware(AdmissionLimit)  # inside PlatformMiddleware: its headers apply to a 503
    app.add_middleware(PlatformMiddleware)
    _register_error_handlers(app)
    metrics.register_collectors(engine=get_engine, sessions=app.state.session_factory)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for site_routes in (health, metrics_route, pages, language):
        app.include_router(site_routes.router)
    # Each domain's pages and its JSON API under /api/v1.
    for domain_web, domain_api in (
        (accounts_web, accounts_api),
        (patients_web, patients_api),
        (consultations_web, consultations_api),
        (interview_web, interview_api),
        (review_web, review_api),
        (records_web, records_api),
        (admin_web, admin_api),
        (notifications_web, notifications_api),
    ):
        app.include_router(domain_web.router)
        app.include_router(domain_api.router, prefix="/api/v1")
    return app


class _LazyFactory:
    """A sessionmaker created on first use, bound to the configured database."""

    def __init__(self) -> None:
        self._factory: sessionmaker[Session] | None = None

    def __call__(self) -> Session:
        if self._factory is None:
            self._factory = session_factory()
        return self._factory()
