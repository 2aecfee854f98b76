"""Admin console pages under /admin: accounts, sessions, audit trail, models, monitoring, feedback.

A router (not a mounted sub-app) so the console shares the app's error pages and CSRF check.
Admins see account metadata, audit metadata and aggregate model figures, never clinical text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Annotated, Protocol

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from medconsult.accounts import mfa
from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role, User
from medconsult.admin import feedback, monitoring
from medconsult.admin import service as admin_service
from medconsult.admin.deps import ADMIN_ONLY
from medconsult.admin.http import AuditQueryDep, audit_csv_response, set_password_url
from medconsult.audit.models import Outcome
from medconsult.auth import AdminUser
from medconsult.config import get_settings
from medconsult.db import SessionDep
from medconsult.diagnosis import registry
from medconsult.errors import Conflict, NotFound, ValidationFailed
from medconsult.i18n import N_, _
from medconsult.jobs import analysis
from medconsult.web.templating import is_htmx, redirect_to, render

# Every route is for admins only (ADMIN_ONLY); a route asks for the admin where it acts as them.
router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[ADMIN_ONLY])

Short = Annotated[str, Query(max_length=254)]
FormShort = Annotated[str, Form(max_length=254)]


class NewStaffForm(BaseModel):
    """The new-account form as posted; the role is checked by the route."""

    email: Annotated[str, Field(max_length=254)] = ""
    role: Annotated[str, Field(max_length=254)] = ""
    full_name: Annotated[str, Field(max_length=200)] = ""


DONE_MESSAGES = {
    "deactivated": N_("The account is deactivated and its sessions have ended."),
    "reactivated": N_("The account is active again."),
    "role": N_("The role is changed; the user's sessions have ended."),
    "session": N_("The session has ended."),
    "mfa_reset": N_(
        "Two-step sign-in is reset and the user's sessions have ended. They set it up "
        "again at their next sign-in."
    ),
    "activated": N_("The model version is active. New analyses use it from now on."),
    "reanalysing": N_(
        "Open consultations that no doctor has claimed are being analysed again "
        "with the active model; their current suggestions stay until the new ones arrive."
    ),
}


def _done(request: Request) -> str | None:
    message = DONE_MESSAGES.get(request.query_params.get("done", ""))
    return _(message) if message else None


@router.get("", name="admin:home")
def home(request: Request, session: SessionDep) -> Response:
    entries = registry.list_models(session)
    return render(
        request,
        "admin/home.html",
        {
            "role_counts": admin_service.role_counts(session),
            "active_model": next((e for e in entries if e.is_active), None),
            "serving_dir": registry.active_model_dir(session),
            "model_count": len(entries),
        },
    )


# --- accounts --------------------------------------------------------------------------------


def _parse_role(raw: str) -> Role | None:
    try:
        return Role(raw) if raw else None
    except ValueError:
        return None


@router.get("/users", name="admin:users")
def users(
    request: Request,
    session: SessionDep,
    q: Short = "",
    role: Short = "",
    active: Short = "",
    page: Annotated[int, Query(ge=1, le=admin_service.MAX_PAGE)] = 1,
) -> Response:
    active_filter = {"yes": True, "no": False}.get(active)
    rows, total = accounts_service.list_users(
        session,
        query=q,
        role=_parse_role(role),
        active=active_filter,
        limit=admin_service.PAGE_SIZE,
        offset=(page - 1) * admin_service.PAGE_SIZE,
    )
    context = {
        "users": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // admin_service.PAGE_SIZE)),
        "sessions": admin_service.session_counts(session, user_ids=[u.id for u in rows]),
        "filters": {"q": q, "role": role, "active": active},
        "roles": list(Role),
    }
    template = "admin/_users_table.html" if is_htmx(request) else "admin/users.html"
    return render(request, template, context)


@router.get("/users/new", name="admin:user_new")
def new_user_page(request: Request) -> Response:
    return render(request, "admin/user_new.html", {"errors": {}, "values": {}})


@router.post("/users")
def create_user(
    request: Request, session: SessionDep, admin: AdminUser, form: Annotated[NewStaffForm, Form()]
) -> Response:
    try:
        chosen = _parse_role(form.role)
        if chosen is None:
            raise ValidationFailed({"role": _("Choose doctor or administrator.")})
        user, token = admin_service.create_staff_account(
            session, actor=admin, email=form.email, role=chosen, full_name=form.full_name
        )
    except ValidationFailed as exc:
        return render(
            request,
            "admin/user_new.html",
            {"errors": exc.errors, "values": form.model_dump()},
            status_code=422,
        )
    return render(
        request,
        "admin/link_issued.html",
        {"user": user, "link": set_password_url(request, token), "created": True},
        status_code=201,
    )


def _user_page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/user_detail.html",
        {
            "user": user,
            "user_sessions": admin_service.live_sessions(session, user_id=user.id),
            "mfa_enabled": accounts_service.mfa_enabled(session, user_id=user.id),
            "roles": list(Role),
            "done": _done(request),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/users/{user_id}", name="admin:user")
def user_detail(request: Request, session: SessionDep, user_id: uuid.UUID) -> Response:
    return _user_page(request, session, accounts_service.get_user(session, user_id))


def _guarded_change(
    request: Request,
    session: SessionDep,
    user_id: uuid.UUID,
    change: str,
    apply: Callable[[], User],
) -> Response:
    """Apply a change the last-admin guard may refuse; a refusal re-renders the user's page."""
    try:
        apply()
    except Conflict as exc:
        # The guard refuses before changing anything: nothing to undo.
        user = accounts_service.get_user(session, user_id)
        return _user_page(request, session, user, error=exc.message, status_code=409)
    return redirect_to(request, "admin:user", user_id=user_id, query={"done": change})


class AccountChange(Protocol):
    def __call__(self, session: Session, *, actor: User, user_id: uuid.UUID) -> User: ...


def _account_action(path: str, done: str, change: AccountChange) -> None:
    """Route ``POST /admin/users/{user_id}/<path>`` (named ``admin:user_<path>``): the admin
    applies ``change`` to the account, then sees its page with the ``done`` message."""

    @router.post(f"/users/{{user_id}}/{path}", name=f"admin:user_{path.replace('-', '_')}")
    def account_action(
        request: Request, session: SessionDep, admin: AdminUser, user_id: uuid.UUID
    ) -> Response:
        return _guarded_change(
            request, session, user_id, done, lambda: change(session, actor=admin, user_id=user_id)
        )


_account_action("deactivate", "deactivated", partial(admin_service.set_active, active=False))
_account_action("reactivate", "reactivated", partial(admin_service.set_active, active=True))
_account_action("mfa-reset", "mfa_reset", mfa.reset)


@router.post("/users/{user_id}/role", name="admin:user_role")
def change_role(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    user_id: uuid.UUID,
    role: FormShort = "",
) -> Response:
    chosen = _parse_role(role)
    if chosen is None:
        raise ValidationFailed({"role": _("Choose a role from the list.")})
    return _guarded_change(
        request,
        session,
        user_id,
        "role",
        lambda: admin_service.set_role(session, actor=admin, user_id=user_id, role=chosen),
    )


@router.post("/users/{user_id}/reset-password", name="admin:user_reset_password")
def reset_password(
    request: Request, session: SessionDep, admin: AdminUser, user_id: uuid.UUID
) -> Response:
    token = admin_service.reset_password(session, actor=admin, user_id=user_id)
    user = accounts_service.get_user(session, user_id)
    return render(
        request,
        "admin/link_issued.html",
        {"user": user, "link": set_password_url(request, token), "created": False},
    )


@router.post("/users/{user_id}/sessions/{session_id}/end", name="admin:user_session_end")
def end_session(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
) -> Response:
    admin_service.end_session(session, actor=admin, user_id=user_id, session_id=session_id)
    return redirect_to(request, "admin:user", user_id=user_id, query={"done": "session"})


# --- audit trail -----------------------------------------------------------------------------


@router.get("/audit", name="admin:audit")
def audit(
    request: Request,
    session: SessionDep,
    query: AuditQueryDep,
    page: Annotated[int, Query(ge=1, le=admin_service.MAX_PAGE)] = 1,
) -> Response:
    context: dict[str, object] = {
        "query": query,
        "params": query.as_params(),
        "outcomes": list(Outcome),
        "errors": {},
    }
    try:
        flt = admin_service.parse_audit_query(session, query)
    except ValidationFailed as exc:
        context.update(errors=exc.errors, result=None)
        return render(request, "admin/audit.html", context, status_code=422)
    context["result"] = admin_service.audit_page(session, flt=flt, page=page)
    return render(request, "admin/audit.html", context)


@router.get("/audit/export.csv", name="admin:audit_export")
def audit_export(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    query: AuditQueryDep,
) -> Response:
    return audit_csv_response(request, session, admin=admin, query=query)


@router.post("/audit/verify", name="admin:audit_verify")
def audit_verify(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    report = admin_service.verify_audit_chain(session, actor=admin)
    return render(request, "admin/audit_verify.html", {"report": report})


# --- model registry --------------------------------------------------------------------------


@router.get("/models", name="admin:models")
def models(
    request: Request, session: SessionDep, show: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    entries = registry.list_models(session)
    active = next((e for e in entries if e.is_active), None)
    shown = next((e for e in entries if e.version == show), None) if show else active
    if show and shown is None:
        raise NotFound(_("Model version {version} was not found.").format(version=show))
    return render(
        request,
        "admin/models.html",
        {
            "entries": entries,
            "active": active,
            "shown": shown,
            "card": registry.read_card(shown) if shown else "",
            "serving_dir": registry.active_model_dir(session),
            "pinned_dir": get_settings().model_dir,
            "artifacts_dir": registry.artifacts_root(),
            "done": _done(request),
        },
    )


@router.post("/models/activate", name="admin:models_activate")
def activate_model(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    version: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    registry.activate_version(session, actor=admin, version=version)
    return redirect_to(request, "admin:models", query={"done": "activated"})


@router.post("/models/reanalyse", name="admin:models_reanalyse")
def reanalyse_open(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    analysis.reanalyse_unclaimed(session, actor=admin)
    return redirect_to(request, "admin:models", query={"done": "reanalysing"})


# --- monitoring ------------------------------------------------------------------------------


@router.get("/monitoring", name="admin:monitoring")
def monitoring_page(
    request: Request, session: SessionDep, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> Response:
    figures = monitoring.compute(session, days=days)
    top1_chart, top3_chart = monitoring.agreement_chart(figures)
    return render(
        request,
        "admin/monitoring.html",
        {
            "m": figures,
            "windows": monitoring.ALLOWED_WINDOWS,
            "daily_chart": monitoring.daily_chart(figures),
            "histogram_chart": monitoring.histogram_chart(figures),
            "top1_chart": top1_chart,
            "top3_chart": top3_chart,
            "label_names": _label_names(),
        },
    )


def _label_names() -> dict[str, str]:
    from medconsult.ml.labels import all_labels

    return {label.key: label.display_name for label in all_labels()}


# --- feedback export -------------------------------------------------------------------------


def _since_day(raw: str) -> datetime | None:
    if not raw.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(raw.strip()), time.min, tzinfo=UTC)
    except ValueError:
        raise ValidationFailed({"since": _("Enter a date as YYYY-MM-DD.")}) from None


def _feedback_page(
    request: Request, session: Session, errors: dict[str, str], *, status_code: int = 200
) -> Response:
    return render(
        request,
        "admin/feedback.html",
        {"candidates": feedback.count_candidates(session), "errors": errors},
        status_code=status_code,
    )


@router.get("/feedback", name="admin:feedback")
def feedback_page(request: Request, session: SessionDep) -> Response:
    return _feedback_page(request, session, {})


@router.post("/feedback/export", name="admin:feedback_export")
def feedback_export(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    since: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        since_at = _since_day(since)
    except ValidationFailed as exc:
        return _feedback_page(request, session, exc.errors, status_code=422)
    return StreamingResponse(
        feedback.csv_chunks(
            session,
            actor=admin,
            since=since_at,
            stream_session=request.app.state.session_factory,
        ),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="feedback-training.csv"'},
    )
