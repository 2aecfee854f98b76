"""Notices: created in the caller's transaction, e-mailed by the job worker, listed in-app.

A notice never holds clinical text: only its kind and a link into the app. The e-mail says that
there is an update and where to sign in; the detail stays behind the sign-in.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from medconsult import access
from medconsult.accounts.models import User
from medconsult.config import Settings, get_settings
from medconsult.db import utcnow
from medconsult.i18n import N_, _
from medconsult.jobs import queue
from medconsult.notifications.models import EmailStatus, Notification, NotificationKind

log = logging.getLogger(__name__)

# What the in-app list says for each kind (no clinical detail here either).
TITLES = {
    NotificationKind.consultation_concluded: N_("A doctor has reviewed your consultation."),
    NotificationKind.doctor_message: N_("A doctor sent you a message."),
    NotificationKind.account_created: N_("Your account was created."),
    NotificationKind.password_reset: N_("Your password was reset by an administrator."),
}


def title(notification: Notification) -> str:
    return _(TITLES[notification.kind])


def notify(
    session: Session,
    *,
    user: User,
    kind: NotificationKind,
    link_path: str,
    settings: Settings | None = None,
) -> Notification:
    """Record a notice for ``user`` and, with SMTP configured, queue its e-mail in the same
    transaction (a rolled-back change never mails anyone)."""
    configured = (settings or get_settings()).smtp_configured
    notification = Notification(
        user_id=user.id,
        kind=kind,
        link_path=link_path[:300],
        email_status=EmailStatus.queued if configured else EmailStatus.not_configured,
        email_attempts=0,
    )
    session.add(notification)
    session.flush()
    if configured:
        queue.defer_notification(session, notification_id=notification.id)
    else:
        log.info(
            "notice %s (%s) for user %s: no SMTP settings, shown in-app only",
            notification.id,
            kind.value,
            user.id,
        )
    return notification


def list_for(session: Session, *, user: User, limit: int = 50) -> Sequence[Notification]:
    """The user's own notices, newest first."""
    return session.scalars(
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id)
        .limit(limit)
    ).all()


def unread_count(session: Session, *, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def open_notice(session: Session, *, user: User, notification_id: uuid.UUID) -> Notification:
    """Mark one of the user's own notices read; another user's is not found."""
    notification = session.get(Notification, notification_id)
    access.check_own(
        session,
        actor=user,
        owner_id=notification.user_id if notification is not None else None,
        action="notification.open",
        record_type="notification",
        record_id=notification_id,
        not_found=_("Notice not found."),
    )
    assert notification is not None  # check_own passed: it exists and is the user's
    if notification.read_at is None:
        notification.read_at = utcnow()
    return notification


def mark_all_read(session: Session, *, user: User) -> None:
    session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )


def compose_email(notification: Notification, *, to: str, settings: Settings) -> EmailMessage:
    """The e-mail for a notice: that something changed and a link to sign in, nothing more."""
    link = settings.public_base_url.rstrip("/") + notification.link_path
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Message-ID"] = make_msgid(domain="medconsult")
    if notification.kind is NotificationKind.account_created:
        message["Subject"] = _("Your MedConsult account")
        opening = _("A MedConsult account was created for you.")
    elif notification.kind is NotificationKind.password_reset:
        message["Subject"] = _("Your MedConsult password was reset")
        opening = _(
            "An administrator reset your MedConsult password. If you did not expect this, "
            "contact your administrator."
        )
    else:
        message["Subject"] = _("There is an update in MedConsult")
        opening = _("There is an update for you in MedConsult.")
    body = "\n\n".join(
        [
            _("Hello,"),
            opening,
            _("Sign in to see it: {link}").format(link=link),
            _("For your privacy, this e-mail contains no medical details."),
        ]
    )
    message.set_content(body + "\n")
    return message
