"""Notice JSON API: the signed-in user's own notices."""

from __future__ import annotations

from fastapi import APIRouter

from medconsult.audit import service as audit_service
from medconsult.auth import CurrentUser
from medconsult.db import SessionDep
from medconsult.notifications import service as notifications_service
from medconsult.notifications.schemas import NotificationList, NotificationRead

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=NotificationList)
def list_notifications(session: SessionDep, user: CurrentUser) -> NotificationList:
    """Newest first; the notices say that something changed, not what."""
    items = notifications_service.list_for(session, user=user)
    audit_service.record_own(session, user=user, action="notification.list")
    return NotificationList(
        unread=notifications_service.unread_count(session, user=user),
        items=[
            NotificationRead(
                id=item.id,
                kind=item.kind,
                title=notifications_service.title(item),
                link_path=item.link_path,
                created_at=item.created_at,
                read_at=item.read_at,
            )
            for item in items
        ],
    )
