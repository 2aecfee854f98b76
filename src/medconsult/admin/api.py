"""Admin JSON API under /api/v1/admin: the same services as the console pages."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from medconsult.accounts import mfa
from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role
from medconsult.accounts.schemas import UserRead
from medconsult.admin import monitoring
from medconsult.admin import service as admin_service
from medconsult.admin.deps import ADMIN_ONLY
from medconsult.admin.http import AuditQueryDep, audit_csv_response, set_password_url
from medconsult.admin.schemas import (
    AuditEventRead,
    AuditPageRead,
    ChainReportRead,
    ModelActivate,
    ModelVersionRead,
    MonitoringRead,
    PasswordResetIssued,
    ReanalysisQueued,
    RoleChange,
    SessionRead,
    StaffCreate,
    StaffCreated,
    UserPage,
)
from medconsult.auth import AdminUser
from medconsult.db import SessionDep
from medconsult.diagnosis import registry
from medconsult.jobs import analysis

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[ADMIN_ONLY])

Text = Annotated[str, Query(max_length=254)]


@router.get("/users", response_model=UserPage)
def list_users(
    session: SessionDep,
    admin: AdminUser,
    q: Text = "",
    role: Role | None = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> UserPage:
    users, total = accounts_service.list_users(
        session, query=q, role=role, active=active, limit=limit, offset=offset
    )
    return UserPage(items=[UserRead.model_validate(u) for u in users], total=total)


@router.post("/users", response_model=StaffCreated, status_code=201)
def create_user(
    body: StaffCreate, request: Request, session: SessionDep, admin: AdminUser
) -> StaffCreated:
    user, token = admin_service.create_staff_account(
        session, actor=admin, email=body.email, role=body.role, full_name=body.full_name
    )
    return StaffCreated(
        user=UserRead.model_validate(user), set_password_url=set_password_url(request, token)
    )


@router.post("/users/{user_id}/deactivate", response_model=UserRead)
def deactivate(user_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> UserRead:
    user = admin_service.set_active(session, actor=admin, user_id=user_id, active=False)
    return UserRead.model_validate(user)


@router.post("/users/{user_id}/reactivate", response_model=UserRead)
def reactivate(user_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> UserRead:
    user = admin_service.set_active(session, actor=admin, user_id=user_id, active=True)
    return UserRead.model_validate(user)


@router.post("/users/{user_id}/role", response_model=UserRead)
def change_role(
    user_id: uuid.UUID, body: RoleChange, session: SessionDep, admin: AdminUser
) -> UserRead:
    user = admin_service.set_role(session, actor=admin, user_id=user_id, role=body.role)
    return UserRead.model_validate(user)


@router.post("/users/{user_id}/reset-password", response_model=PasswordResetIssued)
def reset_password(
    user_id: uuid.UUID, request: Request, session: SessionDep, admin: AdminUser
) -> PasswordResetIssued:
    token = admin_service.reset_password(session, actor=admin, user_id=user_id)
    return PasswordResetIssued(set_password_url=set_password_url(request, token))


@router.post("/users/{user_id}/mfa-reset", response_model=UserRead)
def reset_mfa(user_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> UserRead:
    """Remove the user's second factor (lost device); their sessions end."""
    return UserRead.model_validate(mfa.reset(session, actor=admin, user_id=user_id))


@router.get("/users/{user_id}/sessions", response_model=list[SessionRead])
def user_sessions(user_id: uuid.UUID, session: SessionDep, admin: AdminUser) -> list[SessionRead]:
    accounts_service.get_user(session, user_id)
    return [
        SessionRead.model_validate(row)
        for row in admin_service.live_sessions(session, user_id=user_id)
    ]


@router.delete("/users/{user_id}/sessions/{session_id}", status_code=204)
def end_user_session(
    user_id: uuid.UUID, session_id: uuid.UUID, session: SessionDep, admin: AdminUser
) -> None:
    admin_service.end_session(session, actor=admin, user_id=user_id, session_id=session_id)


@router.get("/audit", response_model=AuditPageRead)
def audit_events(
    session: SessionDep,
    admin: AdminUser,
    query: AuditQueryDep,
    page: Annotated[int, Query(ge=1, le=admin_service.MAX_PAGE)] = 1,
) -> AuditPageRead:
    flt = admin_service.parse_audit_query(session, query)
    result = admin_service.audit_page(session, flt=flt, page=page)
    return AuditPageRead(
        items=[AuditEventRead.model_validate(e) for e in result.events],
        total=result.total,
        page=result.page,
        pages=result.pages,
    )


@router.get("/audit/export.csv")
def audit_export(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    query: AuditQueryDep,
) -> StreamingResponse:
    return audit_csv_response(request, session, admin=admin, query=query)


@router.post("/audit/verify", response_model=ChainReportRead)
def audit_verify(session: SessionDep, admin: AdminUser) -> ChainReportRead:
    report = admin_service.verify_audit_chain(session, actor=admin)
    return ChainReportRead.model_validate(report, from_attributes=True)


def _model_read(entry: registry.ModelEntry) -> ModelVersionRead:
    info = entry.info
    return ModelVersionRead(
        version=entry.version,
        is_active=entry.is_active,
        on_disk=entry.on_disk,
        activated_at=entry.activated_at,
        created_at=info.created_at if info else None,
        base_model=info.base_model if info else None,
        metrics=info.metrics if info else {},
        baseline_metrics=info.baseline_metrics if info else {},
    )


@router.get("/models", response_model=list[ModelVersionRead])
def list_models(session: SessionDep, admin: AdminUser) -> list[ModelVersionRead]:
    return [_model_read(entry) for entry in registry.list_models(session)]


@router.post("/models/activate", response_model=ModelVersionRead)
def activate_model(body: ModelActivate, session: SessionDep, admin: AdminUser) -> ModelVersionRead:
    registry.activate_version(session, actor=admin, version=body.version)
    return _model_read(registry.get_entry(session, version=body.version))


@router.post("/models/reanalyse", response_model=ReanalysisQueued)
def reanalyse_open(session: SessionDep, admin: AdminUser) -> ReanalysisQueued:
    """Analyse again, with the active model, open consultations no doctor has claimed."""
    return ReanalysisQueued(queued=analysis.reanalyse_unclaimed(session, actor=admin))


@router.get("/monitoring", response_model=MonitoringRead)
def monitoring_numbers(
    session: SessionDep, admin: AdminUser, days: Annotated[int, Query(ge=1, le=365)] = 30
) -> MonitoringRead:
    figures = monitoring.compute(session, days=days)
    return MonitoringRead.model_validate(figures, from_attributes=True)
