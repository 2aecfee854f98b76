"""The analysis steps on PostgreSQL with a fake model: claim, store, retry, give up, wait."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from medconsult.audit.models import AuditEvent
from medconsult.config import Settings, get_settings
from medconsult.consultations import service as consultations_service
from medconsult.consultations.models import Consultation, ConsultationStatus
from medconsult.consultations.schemas import ConsultationCreate
from medconsult.diagnosis.models import AISuggestion
from medconsult.interview.models import Interview, InterviewStatus
from medconsult.jobs import analysis
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.ml.errors import InputTextError, ModelError
from tests import factories
from tests.consultations.samples import suggestion
from tests.jobs.fakes import FakeModels


@pytest.fixture
def factory(session: Session) -> sessionmaker[Session]:
    """Sessions that work inside the test's rolled-back transaction (one savepoint each)."""
    return sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")


@pytest.fixture
def settings() -> Settings:
    return get_settings().model_copy(update={"job_max_attempts": 2})


def _submitted(
    session: Session,
    *,
    chief_complaint: str = "Fever",
    history: str = "High fever and chills for two days.",
) -> uuid.UUID:
    patient = factories.create_patient(session)
    consultation, _ = consultations_service.submit(
        session,
        actor=patient,
        data=ConsultationCreate(
            chief_complaint=chief_complaint,
            history=history,
            ai_consent=True,
            idempotency_key=uuid.uuid4().hex,
        ),
        uploads=[],
    )
    return consultation.id


def _job(session: Session, consultation_id: uuid.UUID) -> AnalysisJob:
    session.expire_all()
    job = session.scalar(select(AnalysisJob).where(AnalysisJob.consultation_id == consultation_id))
    assert job is not None
    return job


def _current_count(session: Session, consultation_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(AISuggestion)
            .where(AISuggestion.consultation_id == consultation_id, AISuggestion.is_current)
        )
        or 0
    )


class TestSuccessfulAnalysis:
    def test_stores_suggestion_and_moves_to_review(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)
        models = FakeModels(result=suggestion(urgency="urgent", model_version="fake-v1"))

        outcome = analysis.analyse(
            factory, consultation_id=consultation_id, models=models, settings=settings
        )

        assert outcome == "succeeded"
        job = _job(session, consultation_id)
        assert job.status is JobStatus.succeeded
        assert job.attempts == 1
        stored = session.scalar(
            select(AISuggestion).where(AISuggestion.consultation_id == consultation_id)
        )
        assert stored is not None
        assert stored.model_version == "fake-v1"
        assert stored.analysed_text.startswith("Chief complaint: Fever")
        # The classifier reads the same text with our section titles blanked: the patient's
        # words at the same offsets, so the stored evidence still points into the stored text.
        (read,) = models.texts
        assert len(read) == len(stored.analysed_text)
        assert read.startswith(" " * len("Chief complaint: ") + "Fever")
        assert "History of the present illness" not in read
        consultation = session.get(Consultation, consultation_id)
        assert consultation is not None
        assert consultation.status is ConsultationStatus.awaiting_review
        assert consultation.urgency_rank == 1

    def test_reanalysis_keeps_exactly_one_current_suggestion(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)
        analysis.analyse(
            factory,
            consultation_id=consultation_id,
            models=FakeModels(result=suggestion(model_version="v1")),
            settings=settings,
        )
        job = _job(session, consultation_id)
        job.status = JobStatus.queued  # e.g. a new model version was activated
        session.flush()

        analysis.analyse(
            factory,
            consultation_id=consultation_id,
            models=FakeModels(result=suggestion(model_version="v2")),
            settings=settings,
        )

        assert _current_count(session, consultation_id) == 1
        current = session.scalar(
            select(AISuggestion).where(
                AISuggestion.consultation_id == consultation_id, AISuggestion.is_current
            )
        )
        assert current is not None
        assert current.model_version == "v2"

    def test_duplicate_delivery_does_nothing(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)
        models = FakeModels(result=suggestion())
        analysis.analyse(factory, consultation_id=consultation_id, models=models, settings=settings)

        outcome = analysis.analyse(
            factory, consultation_id=consultation_id, models=models, settings=settings
        )

        assert outcome == "done"
        assert len(models.texts) == 1


class TestFailures:
    def test_transient_error_asks_for_a_retry(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)

        with pytest.raises(analysis.RetryLater):
            analysis.analyse(
                factory,
                consultation_id=consultation_id,
                models=FakeModels(error=ModelError("out of memory")),
                settings=settings,
            )

        job = _job(session, consultation_id)
        assert job.status is JobStatus.queued
        assert job.last_error == "ModelError: out of memory"

    def test_marked_failed_after_max_attempts_and_released_to_doctors(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)
        failing = FakeModels(error=ModelError("out of memory"))
        with pytest.raises(analysis.RetryLater):
            analysis.analyse(
                factory, consultation_id=consultation_id, models=failing, settings=settings
            )

        outcome = analysis.analyse(
            factory, consultation_id=consultation_id, models=failing, settings=settings
        )

        assert outcome == "failed"
        job = _job(session, consultation_id)
        assert job.status is JobStatus.failed
        assert job.attempts == 2
        consultation = session.get(Consultation, consultation_id)
        assert consultation is not None
        assert consultation.status is ConsultationStatus.awaiting_review

    def test_claims_beyond_the_limit_fail_without_running(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)
        job = _job(session, consultation_id)
        job.attempts = settings.job_max_attempts  # earlier attempts died with their worker
        job.status = JobStatus.running
        session.flush()
        models = FakeModels(result=suggestion())

        outcome = analysis.analyse(
            factory, consultation_id=consultation_id, models=models, settings=settings
        )

        assert outcome == "failed"
        assert models.texts == []
        assert _job(session, consultation_id).status is JobStatus.failed

    def test_bad_input_fails_at_once(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)

        outcome = analysis.analyse(
            factory,
            consultation_id=consultation_id,
            models=FakeModels(error=InputTextError("text is empty")),
            settings=settings,
        )

        assert outcome == "failed"
        assert _job(session, consultation_id).attempts == 1


class TestNoModel:
    def test_waits_for_a_model_and_doctors_can_review(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)

        outcome = analysis.analyse(
            factory,
            consultation_id=consultation_id,
            models=FakeModels(available=False),
            settings=settings,
        )

        assert outcome == "waiting_for_model"
        job = _job(session, consultation_id)
        assert job.status is JobStatus.waiting_for_model
        assert job.attempts == 0
        consultation = session.get(Consultation, consultation_id)
        assert consultation is not None
        assert consultation.status is ConsultationStatus.awaiting_review


class TestConcludedBeforeAnalysis:
    def test_no_suggestion_is_attached_after_the_doctor_decided(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(session)
        consultation = session.get(Consultation, consultation_id)
        assert consultation is not None
        consultation.status = ConsultationStatus.concluded
        session.flush()

        outcome = analysis.analyse(
            factory,
            consultation_id=consultation_id,
            models=FakeModels(result=suggestion()),
            settings=settings,
        )

        assert outcome == "concluded"
        assert _current_count(session, consultation_id) == 0


class TestHoldHook:
    def test_ignored_outside_testing(self) -> None:
        production = get_settings().model_copy(
            update={"env": "production", "test_analysis_hold_seconds": 30.0}
        )

        assert analysis.hold_seconds(production) == 0.0


class TestReanalysis:
    def _analysed(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> uuid.UUID:
        consultation_id = _submitted(session)
        analysis.analyse(
            factory,
            consultation_id=consultation_id,
            models=FakeModels(result=suggestion(model_version="v1")),
            settings=settings,
        )
        return consultation_id

    def _current_version(self, session: Session, consultation_id: uuid.UUID) -> str:
        session.expire_all()
        current = session.scalar(
            select(AISuggestion.model_version).where(
                AISuggestion.consultation_id == consultation_id, AISuggestion.is_current
            )
        )
        assert current is not None
        return current

    def test_queues_only_unclaimed_cases_waiting_for_a_doctor(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        open_case = self._analysed(session, factory, settings)
        claimed_case = self._analysed(session, factory, settings)
        concluded_case = self._analysed(session, factory, settings)
        doctor = factories.create_doctor(session)
        for case_id, status in (
            (claimed_case, ConsultationStatus.in_review),
            (concluded_case, ConsultationStatus.concluded),
        ):
            consultation = session.get(Consultation, case_id)
            assert consultation is not None
            consultation.doctor_id = doctor.id
            consultation.status = status
        session.flush()
        admin = factories.create_admin(session)

        queued = analysis.reanalyse_unclaimed(session, actor=admin)

        assert queued >= 1
        job = _job(session, open_case)
        assert (job.status, job.attempts) == (JobStatus.queued, 0)
        assert job.engine_job_id is not None
        assert _job(session, claimed_case).status is JobStatus.succeeded
        assert _job(session, concluded_case).status is JobStatus.succeeded
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.actor_id == admin.id,
                AuditEvent.action == "consultation.reanalysis.queued",
            )
        )
        assert event is not None
        assert event.details["consultations"] == queued

    def test_the_new_model_replaces_the_suggestion(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = self._analysed(session, factory, settings)
        analysis.reanalyse_unclaimed(session, actor=factories.create_admin(session))

        outcome = analysis.analyse(
            factory,
            consultation_id=consultation_id,
            models=FakeModels(result=suggestion(model_version="v2")),
            settings=settings,
        )

        assert outcome == "succeeded"
        assert self._current_version(session, consultation_id) == "v2"
        assert _current_count(session, consultation_id) == 1
        consultation = session.get(Consultation, consultation_id)
        assert consultation is not None
        assert consultation.status is ConsultationStatus.awaiting_review

    def test_a_doctor_who_claims_first_keeps_the_suggestion_they_opened(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = self._analysed(session, factory, settings)
        analysis.reanalyse_unclaimed(session, actor=factories.create_admin(session))
        consultation = session.get(Consultation, consultation_id)
        assert consultation is not None
        consultation.doctor_id = factories.create_doctor(session).id
        consultation.status = ConsultationStatus.in_review
        session.flush()
        models = FakeModels(result=suggestion(model_version="v2"))

        outcome = analysis.analyse(
            factory, consultation_id=consultation_id, models=models, settings=settings
        )

        assert outcome == "claimed"
        assert models.texts == []
        assert self._current_version(session, consultation_id) == "v1"
        assert _job(session, consultation_id).status is JobStatus.succeeded

    def test_a_claim_during_the_analysis_keeps_the_suggestion_too(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = self._analysed(session, factory, settings)
        analysis.reanalyse_unclaimed(session, actor=factories.create_admin(session))
        with factory() as inner, inner.begin():
            claimed = analysis.claim(
                inner, consultation_id=consultation_id, models=FakeModels(), settings=settings
            )
        assert isinstance(claimed, analysis.Claim)
        session.expire_all()
        consultation = session.get(Consultation, consultation_id)
        assert consultation is not None
        consultation.doctor_id = factories.create_doctor(session).id
        consultation.status = ConsultationStatus.in_review
        session.flush()

        with factory() as inner, inner.begin():
            stored = analysis.store(
                inner,
                consultation_id=consultation_id,
                suggestion=suggestion(model_version="v2"),
                text=claimed.text,
            )

        assert stored is False
        assert self._current_version(session, consultation_id) == "v1"
        assert _job(session, consultation_id).status is JobStatus.succeeded


class TestTextTheModelCannotRead:
    def test_mostly_chinese_text_abstains_without_running_the_model(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(
            session, chief_complaint="发烧", history="我发烧三天了，还一直咳嗽，晚上睡不好。"
        )
        models = FakeModels(result=suggestion())

        outcome = analysis.analyse(
            factory, consultation_id=consultation_id, models=models, settings=settings
        )

        session.expire_all()
        stored = session.scalar(
            select(AISuggestion).where(
                AISuggestion.consultation_id == consultation_id, AISuggestion.is_current
            )
        )
        assert outcome == "succeeded"
        assert models.texts == []  # the English model never saw it
        assert stored is not None
        assert stored.abstained
        assert stored.abstain_reasons == ["unsupported_language"]
        assert stored.ranked == []
        assert _job(session, consultation_id).status is JobStatus.succeeded

    def test_english_with_a_chinese_word_is_still_analysed(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(
            session, history="High fever and chills for two days, my mother calls it 发烧."
        )
        models = FakeModels(result=suggestion())

        analysis.analyse(factory, consultation_id=consultation_id, models=models, settings=settings)

        assert len(models.texts) == 1

    def test_with_interview_answers_the_model_reads_those_instead(
        self, session: Session, factory: sessionmaker[Session], settings: Settings
    ) -> None:
        consultation_id = _submitted(
            session, chief_complaint="发烧", history="我发烧三天了，还一直咳嗽，晚上睡不好。"
        )
        session.add(
            Interview(
                consultation_id=consultation_id,
                status=InterviewStatus.finished,
                answers=[{"code": "E_91", "values": ["yes"], "unknown": False}],
                max_questions=10,
            )
        )
        session.flush()
        models = FakeModels(result=suggestion())

        analysis.analyse(factory, consultation_id=consultation_id, models=models, settings=settings)

        session.expire_all()
        stored = session.scalar(
            select(AISuggestion).where(
                AISuggestion.consultation_id == consultation_id, AISuggestion.is_current
            )
        )
        assert len(models.texts) == 1
        assert "发烧" not in models.texts[0]  # only the English rendering of the answers
        assert stored is not None
        assert stored.analysed_text == models.texts[0]
        assert "unsupported_language" not in stored.abstain_reasons


class TestSemanticLayerBesideTheClassifier:
    @pytest.mark.slow
    def test_flags_are_queued_first_and_waited_for_after(self, settings: Settings) -> None:
        on = settings.model_copy(update={"triage_semantic": True})
        wait = analysis.start_semantic_flags("I think I'm having a heart attack.", on)

        flags = wait()
        assert "chest_pain" in {flag.category for flag in flags}
        assert {flag.layer for flag in flags} == {"semantic"}

    def test_no_layer_or_no_text_is_no_flags(self, settings: Settings) -> None:
        off = settings.model_copy(update={"triage_semantic": False})

        assert analysis.start_semantic_flags("I think I'm having a heart attack.", off)() == []
        assert analysis.start_semantic_flags("", settings)() == []
