"""Deliver one notice's e-mail: the job body the worker runs for ``send_notification_email``.

Three short transactions (count the attempt, send outside any transaction, record the result),
so no row lock is held while an SMTP server answers slowly. A failed send raises ``SendLater``
and the job engine runs the job again with exponential backoff; after
``settings.notification_max_attempts`` attempts the e-mail is marked failed. The notice itself is
never lost: it stays in the user's in-app list whatever happens to the e-mail.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from typing import Unpack

from sqlalchemy.orm import Session, sessionmaker

from medconsult import i18n
from medconsult.accounts.models import User
from medconsult.audit import service as audit_service
from medconsult.audit.models import Outcome
from medconsult.config import Settings
from medconsult.db import utcnow
from medconsult.notifications import service as notifications_service
from medconsult.notifications.models import EmailStatus, Notification

log = logging.getLogger(__name__)

Sender = Callable[[EmailMessage, Settings], None]


class SendLater(Exception):
    """The SMTP server could not take the e-mail now: the job engine retries it later."""


def smtp_send(message: EmailMessage, settings: Settings) -> None:
    """Hand one message to the configured SMTP server (STARTTLS and login when configured)."""
    assert settings.smtp_host is not None
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        smtp.send_message(message)


def deliver(
    factory: sessionmaker[Session],
    *,
    notification_id: uuid.UUID,
    settings: Settings,
    send: Sender = smtp_send,
) -> str:
    """Send one notice's e-mail; what happened (sent, failed, skipped). Raises SendLater to
    be retried."""
    with factory() as session, session.begin():
        notification = session.get(Notification, notification_id, with_for_update=True)
        if notification is None:
            return "gone"  # the account was deleted meanwhile
        if notification.email_status is not EmailStatus.queued:
            return "skipped"  # already sent or given up (a duplicate delivery of the job)
        if not settings.smtp_configured:
            notification.email_status = EmailStatus.not_configured
            log.info("notice %s: no SMTP settings, shown in-app only", notification_id)
            return "not_configured"
        user = session.get(User, notification.user_id)
        if user is None or not user.is_active:
            notification.email_status = EmailStatus.failed
            notification.email_last_error = "account inactive"
            return "skipped"
        with i18n.using_locale(user.locale):  # the recipient's saved language
            message = notifications_service.compose_email(
                notification, to=user.email, settings=settings
            )
        notification.email_attempts += 1
        attempt = notification.email_attempts
    try:
        send(message, settings)
    except (OSError, smtplib.SMTPException) as exc:
        final = attempt >= settings.notification_max_attempts
        error = f"{type(exc).__name__}: {exc}"[:300]
        with factory() as session, session.begin():
            notification = session.get(Notification, notification_id, with_for_update=True)
            if notification is not None:
                notification.email_last_error = error
                if final:
                    notification.email_status = EmailStatus.failed
            _audit_email(
                session,
                notification_id,
                "notification.email_failed",
                outcome=Outcome.failure,
                details={"attempt": attempt, "final": final, "error": type(exc).__name__},
            )
        if final:
            log.error(
                "notice %s: e-mail failed %d times, giving up: %s", notification_id, attempt, error
            )
            return "failed"
        log.warning(
            "notice %s: e-mail attempt %d failed, retrying: %s", notification_id, attempt, error
        )
        raise SendLater(error) from exc
    with factory() as session, session.begin():
        notification = session.get(Notification, notification_id, with_for_update=True)
        if notification is not None:
            notification.email_status = EmailStatus.sent
            notification.email_sent_at = utcnow()
            notification.email_last_error = None
        _audit_email(
            session, notification_id, "notification.email_sent", details={"attempt": attempt}
        )
    return "sent"


def _audit_email(
    session: Session,
    notification_id: uuid.UUID,
    action: str,
    **extras: Unpack[audit_service.Extras],
) -> None:
    """An event of a notice's e-mail (the worker's: no actor)."""
    audit_service.record(
        session,
        actor=None,
        action=action,
        record_type="notification",
        record_id=notification_id,
        **extras,
    )
