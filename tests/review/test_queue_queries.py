"""The queue costs the same number of SQL statements whatever the number of rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.jobs.models import JobStatus
from medconsult.patients import service as patients_service
from medconsult.review import cases as review_cases
from medconsult.review import service as review_service
from tests.factories import (
    create_analysis_job,
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
    login,
)

URGENCIES = ("emergency", "urgent", "routine", "self-care")


@contextmanager
def counted_statements(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    connection = session.connection()

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", count)


def _claimed_cases(session: Session, doctor: User, number: int) -> None:
    """``number`` cases claimed by ``doctor``, each with its own patient, profile, suggestion
    and job, so that any per-row lazy load would show up as extra statements."""
    for index in range(number):
        patient = create_patient(session, full_name=f"Patient {index}")
        patients_service.ensure_profile(session, user=patient).date_of_birth = date(1980, 1, 1)
        consultation = create_consultation(session, patient=patient)
        if index % 3 == 0:
            create_analysis_job(session, consultation=consultation, status=JobStatus.failed)
        else:
            create_analysis_job(session, consultation=consultation)
            create_suggestion(
                session, consultation=consultation, urgency=URGENCIES[index % len(URGENCIES)]
            )
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)
    session.expire_all()


class TestQueueStatementCount:
    @pytest.mark.parametrize("rows", [3, 50])
    def test_service_page_runs_constant_statements(self, session: Session, rows: int) -> None:
        doctor = create_doctor(session)
        _claimed_cases(session, doctor, rows)
        session.refresh(doctor)
        flt = review_cases.QueueFilter(mine=True)

        with counted_statements(session) as statements:
            page = review_cases.queue_page(session, actor=doctor, flt=flt)
            rendered = [(r.patient_name, r.patient_age, r.top_suggestion) for r in page.rows]
            doctors = [r.consultation.doctor.full_name for r in page.rows if r.consultation.doctor]
            jobs = [r.job.status for r in page.rows if r.job]
            patients = [r.consultation.patient.email for r in page.rows]

        assert len(rendered) == rows
        assert len(doctors) == rows
        assert len(jobs) == rows
        assert len(set(patients)) == rows
        # the counts per status (the total among them), the page itself, and the audit event's
        # insert (no lock, no read of the chain: the sealer links it later)
        assert len(statements) == 3, statements

    def test_html_page_of_50_costs_no_more_than_page_of_3(
        self, client: TestClient, session: Session
    ) -> None:
        small_doctor, large_doctor = create_doctor(session), create_doctor(session)
        _claimed_cases(session, small_doctor, 3)
        _claimed_cases(session, large_doctor, 50)

        counts = []
        for doctor, rows in ((small_doctor, 3), (large_doctor, 50)):
            login(client, session, doctor)
            session.expire_all()
            with counted_statements(session) as statements:
                response = client.get("/doctor?mine=1")
            assert response.status_code == 200
            assert response.text.count('class="queue-row"') == rows
            counts.append(len(statements))

        assert counts[0] == counts[1]


class TestCaseStatementCount:
    def test_case_reads_its_analysis_with_the_consultation(self, session: Session) -> None:
        doctor = create_doctor(session)
        patient = create_patient(session)
        patients_service.ensure_profile(session, user=patient)
        earlier = [create_consultation(session, patient=patient) for _ in range(3)]
        consultation = create_consultation(session, patient=patient)
        job = create_analysis_job(session, consultation=consultation)
        suggestion = create_suggestion(session, consultation=consultation)
        create_suggestion(session, consultation=earlier[0])
        ids = (consultation.id, job.id, suggestion.id, patient.id, {c.id for c in earlier})
        session.expire_all()
        session.refresh(doctor)

        with counted_statements(session) as statements:
            case = review_cases.get_case(session, actor=doctor, consultation_id=ids[0])
            reports = list(case.consultation.reports)

        assert case.job is not None
        assert case.suggestion is not None
        assert (case.job.id, case.suggestion.id, case.profile.user_id) == ids[1:4]
        assert {e.consultation.id for e in case.earlier} == ids[4]
        assert reports == []
        # the case with its patient, profile, suggestion and job; its reports; the earlier
        # cases; the reviews and earlier conclusions; the audit event
        assert len(statements) == 5, statements

    def test_a_case_without_analysis_has_none(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = create_consultation(session, patient=create_patient(session))

        case = review_cases.get_case(session, actor=doctor, consultation_id=consultation.id)

        assert (case.suggestion, case.job) == (None, None)
