"""The recovery sweep's table side: consultations waiting for analysis always get an engine job."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from medconsult.consultations import service as consultations_service
from medconsult.consultations.models import Consultation, ConsultationStatus
from medconsult.consultations.schemas import ConsultationCreate
from medconsult.jobs import queue
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.jobs.worker import requeue_orphans
from tests import factories
from tests.jobs.fakes import FakeModels


def _submitted(session: Session) -> Consultation:
    consultation, _ = consultations_service.submit(
        session,
        actor=factories.create_patient(session),
        data=ConsultationCreate(
            chief_complaint="Rash",
            history="An itchy rash on both arms.",
            ai_consent=True,
            idempotency_key=uuid.uuid4().hex,
        ),
        uploads=[],
    )
    return consultation


def _job(session: Session, consultation_id: uuid.UUID) -> AnalysisJob | None:
    return session.scalar(select(AnalysisJob).where(AnalysisJob.consultation_id == consultation_id))


class TestRequeueOrphans:
    def test_consultation_without_a_job_gets_one(self, session: Session) -> None:
        consultation = factories.create_consultation(
            session,
            patient=factories.create_patient(session),
            status=ConsultationStatus.submitted,
        )

        requeue_orphans(session, models=FakeModels())

        job = _job(session, consultation.id)
        assert job is not None
        assert job.status is JobStatus.queued
        assert queue.pending_engine_job(session, consultation_id=consultation.id) is not None

    def test_lost_engine_job_is_deferred_again(self, session: Session) -> None:
        consultation = _submitted(session)
        job = _job(session, consultation.id)
        assert job is not None
        lost = job.engine_job_id
        session.execute(text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": lost})

        requeue_orphans(session, models=FakeModels())

        assert job.engine_job_id not in (None, lost)
        assert (
            queue.pending_engine_job(session, consultation_id=consultation.id) == job.engine_job_id
        )

    def test_live_engine_job_is_left_alone(self, session: Session) -> None:
        consultation = _submitted(session)
        job = _job(session, consultation.id)
        assert job is not None
        engine_job = job.engine_job_id

        requeue_orphans(session, models=FakeModels())

        assert job.engine_job_id == engine_job
        count = session.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE queueing_lock = :lock"),
            {"lock": queue.queueing_lock(consultation.id)},
        )
        assert count == 1

    def test_waiting_for_model_is_queued_once_a_model_exists(self, session: Session) -> None:
        consultation = _submitted(session)
        job = _job(session, consultation.id)
        assert job is not None
        job.status = JobStatus.waiting_for_model
        session.execute(
            text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": job.engine_job_id}
        )

        requeue_orphans(session, models=FakeModels(available=True))

        assert job.status is JobStatus.queued
        assert queue.pending_engine_job(session, consultation_id=consultation.id) is not None

    def test_waiting_for_model_stays_while_there_is_none(self, session: Session) -> None:
        consultation = _submitted(session)
        job = _job(session, consultation.id)
        assert job is not None
        job.status = JobStatus.waiting_for_model
        session.flush()

        requeue_orphans(session, models=FakeModels(available=False))

        assert job.status is JobStatus.waiting_for_model
