"""A notice to one user that something changed; it holds a kind and a link, never clinical text."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medconsult.db import Base, Timestamped, UUIDPk


class NotificationKind(enum.StrEnum):
    consultation_concluded = "consultation_concluded"
    doctor_message = "doctor_message"
    account_created = "account_created"
    password_reset = "password_reset"


class EmailStatus(enum.StrEnum):
    queued = "queued"  # a job will send it (or is retrying)
    sent = "sent"
    failed = "failed"  # every attempt failed; the notice is still shown in-app
    not_configured = "not_configured"  # no SMTP settings: logged and shown in-app only


class Notification(UUIDPk, Timestamped, Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(
        Enum(NotificationKind, name="notification_kind", native_enum=True)
    )
    # A path inside the app (e.g. /consultations/<id>); the e-mail turns it into a full link.
    link_path: Mapped[str] = mapped_column(String(300))
    read_at: Mapped[datetime | None]
    email_status: Mapped[EmailStatus] = mapped_column(
        Enum(EmailStatus, name="notification_email_status", native_enum=True)
    )
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)
    email_sent_at: Mapped[datetime | None]
    email_last_error: Mapped[str | None] = mapped_column(String(300))
