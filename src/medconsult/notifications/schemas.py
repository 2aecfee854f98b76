"""Notice schemas: kind, a title and a link; never clinical text."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from medconsult.notifications.models import NotificationKind


class NotificationRead(BaseModel):
    id: uuid.UUID
    kind: NotificationKind
    title: str
    link_path: str
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    unread: int
    items: list[NotificationRead]
