"""Notices on state changes, in-app and queued for e-mail, never carrying clinical text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import Role
from medconsult.config import get_settings
from medconsult.consultations import service as consultations_service
from medconsult.consultations.models import ConsultationStatus
from medconsult.jobs import queue
from medconsult.notifications import service as notifications_service
from medconsult.notifications.models import EmailStatus, Notification, NotificationKind
from medconsult.review import service as review_service
from medconsult.review.models import Decision
from medconsult.review.schemas import ReviewCreate
from tests import factories

MARKER = "Quetzal-lantern-4417"  # clinical text that must never leave the app


def _notices(session: Session, user_id: object) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user_id)).all())


def _engine_jobs(session: Session, notification: Notification) -> int:
    return int(
        session.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = :queue"
                " AND args->>'notification_id' = :id"
            ),
            {"queue": queue.NOTIFICATION_QUEUE, "id": str(notification.id)},
        )
        or 0
    )


@pytest.fixture
def smtp_configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MEDCONSULT_SMTP_HOST", "127.0.0.1")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("MEDCONSULT_SMTP_HOST")
    get_settings.cache_clear()


class TestStateChanges:
    def test_doctor_message_notifies_patient_but_patient_message_does_not(
        self, session: Session
    ) -> None:
        patient = factories.create_patient(session)
        doctor = factories.create_doctor(session)
        consultation = factories.create_consultation(session, patient=patient)

        consultations_service.post_message(
            session, actor=doctor, consultation_id=consultation.id, body=f"Take rest {MARKER}"
        )
        consultations_service.post_message(
            session, actor=patient, consultation_id=consultation.id, body="Thank you"
        )

        notices = _notices(session, patient.id)
        assert [n.kind for n in notices] == [NotificationKind.doctor_message]
        assert notices[0].link_path == f"/consultations/{consultation.id}"
        assert not _notices(session, doctor.id)

    def test_signed_review_notifies_patient(self, session: Session) -> None:
        patient = factories.create_patient(session)
        doctor = factories.create_doctor(session)
        consultation = factories.create_consultation(session, patient=patient)
        factories.create_suggestion(session, consultation=consultation)
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.accept, accepted_label="pneumonia", advice=f"Rest {MARKER}"
            ),
        )

        assert consultation.status is ConsultationStatus.concluded
        notices = _notices(session, patient.id)
        assert [n.kind for n in notices] == [NotificationKind.consultation_concluded]

    def test_account_created_and_reset_notify_the_account(self, session: Session) -> None:
        admin = factories.create_admin(session)
        user, _ = accounts_service.create_user(
            session, actor=admin, email="new-doctor@example.org", role=Role.doctor
        )

        accounts_service.reset_password(session, actor=admin, user_id=user.id)

        kinds = sorted(n.kind.value for n in _notices(session, user.id))
        assert kinds == ["account_created", "password_reset"]

    def test_without_smtp_logged_and_in_app_only(
        self, session: Session, caplog: pytest.LogCaptureFixture
    ) -> None:
        patient = factories.create_patient(session)

        with caplog.at_level("INFO", logger="medconsult.notifications.service"):
            notice = notifications_service.notify(
                session, user=patient, kind=NotificationKind.doctor_message, link_path="/x"
            )

        assert notice.email_status is EmailStatus.not_configured
        assert _engine_jobs(session, notice) == 0
        assert "no SMTP settings" in caplog.text

    @pytest.mark.usefixtures("smtp_configured")
    def test_with_smtp_the_email_job_is_queued_in_the_same_transaction(
        self, session: Session
    ) -> None:
        patient = factories.create_patient(session)

        notice = notifications_service.notify(
            session, user=patient, kind=NotificationKind.doctor_message, link_path="/x"
        )

        assert notice.email_status is EmailStatus.queued
        assert _engine_jobs(session, notice) == 1


class TestEmailContent:
    def test_email_has_link_and_no_clinical_text(self, session: Session) -> None:
        patient = factories.create_patient(session, full_name="Ada Lovelace")
        notice = notifications_service.notify(
            session,
            user=patient,
            kind=NotificationKind.consultation_concluded,
            link_path="/consultations/abc",
        )
        settings = get_settings().model_copy(
            update={"public_base_url": "https://care.example.org/"}
        )

        message = notifications_service.compose_email(notice, to=patient.email, settings=settings)

        body = message.get_content()
        assert "https://care.example.org/consultations/abc" in body
        assert "Ada" not in body
        assert message["To"] == patient.email

    def test_password_reset_email_carries_no_set_password_link(self, session: Session) -> None:
        admin = factories.create_admin(session)
        doctor = factories.create_doctor(session)
        token = accounts_service.reset_password(session, actor=admin, user_id=doctor.id)
        notice = _notices(session, doctor.id)[0]

        message = notifications_service.compose_email(
            notice, to=doctor.email, settings=get_settings()
        )

        body = message.get_content()
        assert token not in body
        assert "set-password" not in body
        assert body.count("/login") == 1
        assert "reset" in str(message["Subject"])


class TestInApp:
    def test_list_badge_and_open(self, client: TestClient, session: Session) -> None:
        patient = factories.create_patient(session)
        other = factories.create_patient(session)
        notice = notifications_service.notify(
            session, user=patient, kind=NotificationKind.doctor_message, link_path="/consultations"
        )
        notifications_service.notify(
            session, user=other, kind=NotificationKind.doctor_message, link_path="/consultations"
        )
        csrf_value = factories.login(client, session, patient)

        badge = client.get("/notifications/badge")
        page = client.get("/notifications")
        api = client.get("/api/v1/notifications")
        opened = client.post(
            f"/notifications/{notice.id}/open",
            data={"csrf_token": csrf_value},
            follow_redirects=False,
        )
        badge_after = client.get("/notifications/badge")

        assert re.search(r'class="badge"[^>]*>1<', badge.text)
        assert "A doctor sent you a message." in page.text
        assert page.text.count("/open") == 1  # only the user's own notice
        assert api.json()["unread"] == 1
        assert len(api.json()["items"]) == 1
        assert opened.status_code == 303
        assert opened.headers["location"] == "/consultations"
        assert 'class="badge"' not in badge_after.text

    def test_another_users_notice_is_not_found(self, client: TestClient, session: Session) -> None:
        owner = factories.create_patient(session)
        intruder = factories.create_patient(session)
        notice = notifications_service.notify(
            session, user=owner, kind=NotificationKind.doctor_message, link_path="/x"
        )
        csrf_value = factories.login(client, session, intruder)

        response = client.post(f"/notifications/{notice.id}/open", data={"csrf_token": csrf_value})

        assert response.status_code == 404
        session.refresh(notice)
        assert notice.read_at is None
