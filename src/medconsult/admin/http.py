"""What the admin pages and the admin API share at the HTTP edge: the set-password link, the
audit filter's query parameters and the streamed CSV export."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.admin import service as admin_service

AuditQueryDep = Annotated[admin_service.AuditQuery, Query()]


def set_password_url(request: Request, token: str) -> str:
    """The link that lets a new or reset account choose its password (shown to the admin)."""
    return str(request.url_for("accounts:set_password", token=token))


def audit_csv_response(
    request: Request, session: Session, *, admin: User, query: admin_service.AuditQuery
) -> StreamingResponse:
    """The matching audit events as a streamed CSV download (the export itself is audited)."""
    flt = admin_service.parse_audit_query(session, query)
    return StreamingResponse(
        admin_service.audit_csv_chunks(
            session, actor=admin, flt=flt, stream_session=request.app.state.session_factory
        ),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'},
    )
