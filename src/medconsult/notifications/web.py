"""Notice pages: the signed-in user's own list, a badge fragment for the header, mark read."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medconsult.audit import service as audit_service
from medconsult.auth import CurrentUser, SignedInUser
from medconsult.db import SessionDep
from medconsult.notifications import service as notifications_service
from medconsult.web.templating import redirect, redirect_to, render

router = APIRouter(include_in_schema=False)


@router.get("/notifications", name="notifications:list")
def list_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    items = notifications_service.list_for(session, user=user)
    audit_service.record_own(session, user=user, action="notification.list")
    return render(
        request,
        "notifications/list.html",
        {"items": items, "title": notifications_service.title},
    )


@router.get("/notifications/badge", name="notifications:badge")
# Shown in every page's header, the MFA set-up page too: a count only, nothing else.
def badge(request: Request, session: SessionDep, user: SignedInUser) -> Response:
    count = notifications_service.unread_count(session, user=user)
    return render(request, "notifications/_badge.html", {"count": count})


@router.post("/notifications/{notification_id}/open", name="notifications:open")
def open_notice(
    request: Request, session: SessionDep, user: CurrentUser, notification_id: uuid.UUID
) -> Response:
    notification = notifications_service.open_notice(
        session, user=user, notification_id=notification_id
    )
    return redirect(request, notification.link_path)


@router.post("/notifications/read-all", name="notifications:read_all")
def read_all(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    notifications_service.mark_all_read(session, user=user)
    return redirect_to(request, "notifications:list")
