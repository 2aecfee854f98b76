"""Notice e-mails through a real local SMTP server (aiosmtpd, started here) and the real job
engine: delivered without clinical text; an SMTP server that is down means a retried job, with
nothing lost and every failure audited."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from medconsult.accounts.models import User
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.config import Settings, get_settings
from medconsult.consultations import service as consultations_service
from medconsult.jobs import notifications, queue
from medconsult.jobs.worker import build_app
from medconsult.notifications import service as notifications_service
from medconsult.notifications.models import EmailStatus, Notification, NotificationKind
from tests import factories
from tests.jobs.fakes import FakeModels
from tests.smtp import free_port, smtp_server

MARKER = "Quetzal-lantern-4417"  # clinical text that must never leave the app


def _settings(port: int, **extra: object) -> Settings:
    return get_settings().model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,  # the local test server speaks plain SMTP
            "smtp_timeout_seconds": 5.0,
            "public_base_url": "https://care.example.org",
            **extra,
        }
    )


@pytest.fixture
def factory(session: Session) -> sessionmaker[Session]:
    return sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")


def _doctor_message(session: Session) -> tuple[Notification, str]:
    """A doctor's message with clinical text, and the notice it raised; (notice, patient email)."""
    patient = factories.create_patient(session)
    doctor = factories.create_doctor(session)
    consultation = factories.create_consultation(
        session, patient=patient, chief_complaint=f"Rash {MARKER}", history=f"Itchy {MARKER}"
    )
    consultations_service.post_message(
        session, actor=doctor, consultation_id=consultation.id, body=f"Use cream {MARKER}"
    )
    notice = session.scalars(select(Notification).where(Notification.user_id == patient.id)).one()
    return notice, patient.email


@pytest.fixture
def smtp_configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's own settings name an SMTP host, so state changes queue their e-mails."""
    monkeypatch.setenv("MEDCONSULT_SMTP_HOST", "127.0.0.1")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("MEDCONSULT_SMTP_HOST")
    get_settings.cache_clear()


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


@pytest.mark.usefixtures("smtp_configured")
class TestDeliver:
    def test_delivered_with_link_and_without_clinical_text(
        self, session: Session, factory: sessionmaker[Session]
    ) -> None:
        with smtp_server() as server:
            settings = _settings(server.port)
            notice, email = _doctor_message(session)

            outcome = notifications.deliver(factory, notification_id=notice.id, settings=settings)

        assert outcome == "sent"
        assert len(server.received) == 1
        mail = server.received[0]
        assert mail.recipients == [email]
        assert f"https://care.example.org{notice.link_path}" in mail.text
        raw = mail.message.as_string()
        assert MARKER not in raw
        assert "cream" not in raw
        session.refresh(notice)
        assert notice.email_status is EmailStatus.sent
        assert notice.email_attempts == 1
        assert _events(session, "notification.email_sent")

    def test_in_the_recipients_saved_language(
        self, session: Session, factory: sessionmaker[Session]
    ) -> None:
        with smtp_server() as server:
            settings = _settings(server.port)
            notice, email = _doctor_message(session)
            recipient = session.scalars(select(User).where(User.email == email)).one()
            recipient.locale = "zh_CN"
            session.flush()

            notifications.deliver(factory, notification_id=notice.id, settings=settings)

        mail = server.received[0]
        assert "MedConsult 中有您的新动态。" in mail.text
        assert "为保护您的隐私，此邮件不包含任何医疗信息。" in mail.text
        assert f"https://care.example.org{notice.link_path}" in mail.text

    def test_server_down_retried_then_delivered(
        self, session: Session, factory: sessionmaker[Session]
    ) -> None:
        down = _settings(free_port())
        notice, _ = _doctor_message(session)

        with pytest.raises(notifications.SendLater):
            notifications.deliver(factory, notification_id=notice.id, settings=down)
        session.refresh(notice)
        after_failure = (notice.email_status, notice.email_attempts, notice.email_last_error)
        failed = _events(session, "notification.email_failed")
        with smtp_server() as server:
            outcome = notifications.deliver(
                factory, notification_id=notice.id, settings=_settings(server.port)
            )

        assert after_failure[0] is EmailStatus.queued
        assert after_failure[1] == 1
        assert after_failure[2]
        assert failed[-1].outcome is Outcome.failure
        assert failed[-1].details["final"] is False
        assert outcome == "sent"
        assert len(server.received) == 1
        session.refresh(notice)
        assert notice.email_status is EmailStatus.sent
        assert notice.email_attempts == 2

    def test_gives_up_after_max_attempts_but_notice_stays_in_app(
        self, session: Session, factory: sessionmaker[Session]
    ) -> None:
        down = _settings(free_port(), notification_max_attempts=2)
        notice, _ = _doctor_message(session)

        with pytest.raises(notifications.SendLater):
            notifications.deliver(factory, notification_id=notice.id, settings=down)
        last = notifications.deliver(factory, notification_id=notice.id, settings=down)

        assert last == "failed"
        session.refresh(notice)
        assert notice.email_status is EmailStatus.failed
        patient = session.get(User, notice.user_id)
        assert patient is not None
        assert notice in notifications_service.list_for(session, user=patient)
        assert _events(session, "notification.email_failed")[-1].details["final"] is True

    def test_already_sent_is_not_sent_twice(
        self, session: Session, factory: sessionmaker[Session]
    ) -> None:
        with smtp_server() as server:
            settings = _settings(server.port)
            notice, _ = _doctor_message(session)
            notifications.deliver(factory, notification_id=notice.id, settings=settings)

            again = notifications.deliver(factory, notification_id=notice.id, settings=settings)

        assert again == "skipped"
        assert len(server.received) == 1


def _run_worker_once(settings: Settings, factory: sessionmaker[Session]) -> None:
    """A real procrastinate worker on the notification queue until no job is due."""
    app = build_app(settings=settings, factory=factory, models=FakeModels())

    async def run() -> None:
        async with app.open_async():
            await app.run_worker_async(
                queues=[queue.NOTIFICATION_QUEUE], wait=False, install_signal_handlers=False
            )

    # A thread of its own: a browser test's Playwright may hold this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=120)


class TestWorker:
    def test_job_engine_retries_with_backoff_then_delivers(
        self, worker_database_url: str, worker_engine: Engine
    ) -> None:
        factory = sessionmaker(bind=worker_engine, expire_on_commit=False)
        down = _settings(free_port(), database_url=worker_database_url)
        with factory() as session, session.begin():
            patient = factories.create_patient(
                session, email=f"notice-{uuid.uuid4().hex[:8]}@example.org"
            )
            notice = notifications_service.notify(
                session,
                user=patient,
                kind=NotificationKind.consultation_concluded,
                link_path="/consultations",
                settings=down,
            )
        job_sql = text(
            "SELECT status::text, attempts, scheduled_at > now() FROM procrastinate_jobs"
            " WHERE queue_name = :queue AND args->>'notification_id' = :id"
        )
        params = {"queue": queue.NOTIFICATION_QUEUE, "id": str(notice.id)}

        _run_worker_once(down, factory)
        with worker_engine.connect() as connection:
            after_failure = connection.execute(job_sql, params).one()
        time.sleep(2.5)  # the first retry waits 2 s (exponential_wait=2)
        with smtp_server() as server:
            _run_worker_once(_settings(server.port, database_url=worker_database_url), factory)
        with worker_engine.connect() as connection:
            after_success = connection.execute(job_sql, params).one()
        with factory() as session:
            stored = session.get(Notification, notice.id)

        assert tuple(after_failure) == ("todo", 1, True)  # rescheduled, not lost
        assert after_success[0] == "succeeded"
        assert len(server.received) == 1
        assert server.received[0].recipients == [patient.email]
        assert stored is not None
        assert stored.email_status is EmailStatus.sent
        assert stored.email_attempts == 2
