"""'Delete my account': re-authentication, no identifier left, sessions ended, signed records
kept for the retention period and purged by the worker's sweep afterwards."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from medconsult.accounts import service as accounts_service
from medconsult.accounts.models import LoginFailure, User, UserSession
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.config import get_settings
from medconsult.consultations import service as consultations_service
from medconsult.consultations.models import Consultation, Message, ReportFile
from medconsult.db import utcnow
from medconsult.errors import NotAuthenticated, ValidationFailed
from medconsult.patients.models import PatientProfile
from medconsult.records import service
from medconsult.review.models import DoctorReview
from tests import factories
from tests.records.conftest import (
    PATIENT_EMAIL,
    PATIENT_NAME,
    PATIENT_PHONE,
    REPORT_NAME,
    Record,
)

IDENTIFIERS = (PATIENT_EMAIL, PATIENT_NAME, PATIENT_PHONE, "quistorp")


def _columns_holding(session: Session, needle: str) -> list[str]:
    """Every text, varchar, json or jsonb column of the database whose value contains
    ``needle`` (case-insensitively), as ``table.column``."""
    columns = session.execute(
        text(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns"
            " JOIN information_schema.tables USING (table_catalog, table_schema, table_name)"
            " WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            " AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb')"
        )
    ).all()
    assert len(columns) > 40  # the whole schema, procrastinate's tables included
    found = []
    for schema, table, column in columns:
        hits = session.scalar(
            text(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE :pattern'
            ),
            {"pattern": f"%{needle}%"},
        )
        if hits:
            found.append(f"{table}.{column}")
    return found


def _sign_in_traces(session: Session, record: Record) -> None:
    """What a real account leaves around: a session, a failed sign-in, a reset link."""
    accounts_service.start_session(
        session, user=record.patient, settings=get_settings(), user_agent="Browser"
    )
    session.add(LoginFailure(email=PATIENT_EMAIL.lower(), client_address="203.0.113.9"))
    accounts_service.issue_password_token(session, user=record.patient)
    session.flush()


class TestErase:
    def test_no_identifier_left_behind(self, session: Session, record: Record) -> None:
        _sign_in_traces(session, record)
        assert _columns_holding(session, PATIENT_EMAIL)  # the search does find them before
        assert _columns_holding(session, PATIENT_NAME)

        service.erase_account(session, actor=record.patient, password=factories.DEFAULT_PASSWORD)
        session.flush()

        for needle in IDENTIFIERS:
            assert _columns_holding(session, needle) == [], needle

    def test_signed_record_kept_unsigned_deleted(self, session: Session, record: Record) -> None:
        result = service.erase_account(
            session, actor=record.patient, password=factories.DEFAULT_PASSWORD
        )

        assert result.deleted_consultations == 1
        assert result.retained_consultations == 1
        assert session.get(Consultation, record.unsigned.id) is None
        kept = session.get(Consultation, record.signed.id)
        assert kept is not None
        assert kept.history.startswith("Fever, chills")
        assert session.scalar(select(func.count()).select_from(DoctorReview)) == 1
        assert (
            session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.consultation_id == record.signed.id)
            )
            == 2
        )
        report = session.get(ReportFile, record.report.id)
        assert report is not None
        assert REPORT_NAME not in report.original_name
        assert report.original_name.endswith(".txt")
        signed_at = record.review.signed_at
        assert result.retain_until == signed_at.replace(year=signed_at.year + 10)

    def test_account_anonymised_and_sessions_ended(self, session: Session, record: Record) -> None:
        _sign_in_traces(session, record)

        service.erase_account(session, actor=record.patient, password=factories.DEFAULT_PASSWORD)

        user = session.get(User, record.patient.id)
        assert user is not None
        assert user.erased_at is not None
        assert user.is_active is False
        assert user.full_name == ""
        assert user.email.endswith("@erased.invalid")
        assert (
            session.scalar(
                select(func.count())
                .select_from(UserSession)
                .where(UserSession.user_id == record.patient.id)
            )
            == 0
        )
        assert (
            session.scalar(
                select(PatientProfile).where(PatientProfile.user_id == record.patient.id)
            )
            is None
        )
        with pytest.raises(NotAuthenticated):
            accounts_service.authenticate(
                session,
                email=PATIENT_EMAIL,
                password=factories.DEFAULT_PASSWORD,
                client_address="203.0.113.9",
                settings=get_settings(),
            )

    def test_doctor_still_reads_retained_record(self, session: Session, record: Record) -> None:
        service.erase_account(session, actor=record.patient, password=factories.DEFAULT_PASSWORD)

        bundle = service.bundle_dict(
            service.patient_everything(
                session, actor=record.doctor, patient_id=record.patient.id, base_url="https://x/"
            )
        )

        patient = bundle["entry"][0]["resource"]  # type: ignore[index]
        assert patient["active"] is False
        assert "name" not in patient
        assert "telecom" not in patient
        assert PATIENT_NAME not in str(bundle)

    def test_nothing_signed_removes_the_account(self, session: Session) -> None:
        patient = factories.create_patient(session, full_name=PATIENT_NAME, email=PATIENT_EMAIL)
        factories.create_consultation(session, patient=patient)
        patient_id = patient.id

        result = service.erase_account(session, actor=patient, password=factories.DEFAULT_PASSWORD)

        assert result.retained_consultations == 0
        assert session.get(User, patient_id) is None
        assert _columns_holding(session, PATIENT_EMAIL) == []

    def test_audited(self, session: Session, record: Record) -> None:
        service.erase_account(session, actor=record.patient, password=factories.DEFAULT_PASSWORD)

        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "records.account.erase",
                AuditEvent.outcome == Outcome.success,
                AuditEvent.patient_id == record.patient.id,
            )
        )
        assert event is not None
        assert event.patient_id == record.patient.id
        assert event.details["retained_consultations"] == 1
        assert event.details["deleted_consultations"] == 1


class TestEraseWithoutReauthentication:
    @pytest.mark.parametrize("password", ["", "wrong password"])
    def test_changes_nothing(self, session: Session, record: Record, password: str) -> None:
        with pytest.raises(ValidationFailed):
            service.erase_account(session, actor=record.patient, password=password)

        user = session.get(User, record.patient.id)
        assert user is not None
        assert user.email == PATIENT_EMAIL
        assert user.erased_at is None
        assert session.get(Consultation, record.unsigned.id) is not None
        failure = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "records.account.erase",
                AuditEvent.outcome == Outcome.failure,
            )
        )
        assert failure is not None


class TestRetentionPurge:
    def test_kept_within_retention(self, session: Session, record: Record) -> None:
        service.erase_account(session, actor=record.patient, password=factories.DEFAULT_PASSWORD)

        purged = service.purge_expired_records(session, now=utcnow() + timedelta(days=9 * 365))

        assert purged == 0
        assert session.get(Consultation, record.signed.id) is not None

    def test_purged_after_retention(
        self, session: Session, record: Record, upload_dir: Path
    ) -> None:
        signed_id, patient_id = record.signed.id, record.patient.id
        service.erase_account(session, actor=record.patient, password=factories.DEFAULT_PASSWORD)

        purged = service.purge_expired_records(session, now=utcnow() + timedelta(days=10 * 366))
        deleted_files = consultations_service.prune_orphan_reports(
            session, upload_dir=upload_dir, grace_seconds=0
        )

        assert purged == 1
        assert session.get(Consultation, signed_id) is None
        assert session.get(User, patient_id) is None
        assert deleted_files == 1
        assert list(upload_dir.rglob("*")) == [p for p in upload_dir.rglob("*") if p.is_dir()]
        event = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "records.retention.purge")
        )
        assert event is not None
        assert event.patient_id == patient_id

    def test_active_patients_untouched(self, session: Session, record: Record) -> None:
        purged = service.purge_expired_records(session, now=utcnow() + timedelta(days=50 * 366))

        assert purged == 0
        assert session.get(Consultation, record.signed.id) is not None

    def test_retention_setting(self, session: Session, record: Record) -> None:
        service.erase_account(session, actor=record.patient, password=factories.DEFAULT_PASSWORD)
        settings = get_settings().model_copy(update={"record_retention_years": 1})

        purged = service.purge_expired_records(
            session, settings=settings, now=utcnow() + timedelta(days=400)
        )

        assert purged == 1


class TestDeletePages:
    def test_wrong_password(self, client: TestClient, session: Session, record: Record) -> None:
        token = factories.login(client, session, record.patient)

        response = client.post("/my-data/delete", data={"csrf_token": token, "password": "nope"})

        assert response.status_code == 422
        assert "Your password is incorrect. Nothing was deleted." in response.text
        assert client.get("/my-data").status_code == 200  # still signed in

    def test_delete(self, client: TestClient, session: Session, record: Record) -> None:
        token = factories.login(client, session, record.patient)

        response = client.post(
            "/my-data/delete",
            data={"csrf_token": token, "password": factories.DEFAULT_PASSWORD},
        )
        after = client.get("/api/v1/patients/me/profile")

        assert response.status_code == 200
        assert "Your account has been deleted" in response.text
        assert "Sign in" in response.text
        assert after.status_code == 401

    def test_without_csrf_token(self, client: TestClient, session: Session, record: Record) -> None:
        factories.login(client, session, record.patient)

        response = client.post("/my-data/delete", data={"password": factories.DEFAULT_PASSWORD})

        assert response.status_code == 403
        user = session.get(User, record.patient.id)
        assert user is not None
        assert user.erased_at is None


class TestWorkerSweep:
    def test_housekeeping_purges_then_prunes(
        self, session: Session, record: Record, upload_dir: Path
    ) -> None:
        from sqlalchemy.orm import sessionmaker

        from medconsult.jobs import worker

        signed_id = record.signed.id
        service.erase_account(session, actor=record.patient, password=factories.DEFAULT_PASSWORD)
        for review in session.scalars(select(DoctorReview)):
            review.signed_at = utcnow() - timedelta(days=11 * 366)
        session.flush()
        # The sweep's own transactions, as savepoints inside the test's rolled-back one.
        factory = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")

        deleted = worker.housekeeping(factory, settings=get_settings(), grace_seconds=0)

        session.expire_all()
        assert session.get(Consultation, signed_id) is None
        assert deleted == 1
