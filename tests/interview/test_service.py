"""The interview's service: where the posterior starts, the configured number of questions,
the answers in the analysed text, the questionnaire's text in the user's language."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medconsult import i18n
from medconsult.audit.models import AuditEvent
from medconsult.config import get_settings
from medconsult.interview import display, questionnaire
from medconsult.interview import service as interview_service
from medconsult.interview.engine import YES, Answer
from medconsult.interview.models import InterviewStatus
from medconsult.interview.schemas import AnswerCreate
from medconsult.jobs import analysis
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.ml import labels as ml_labels
from medconsult.ml.structured import StructuredCase
from medconsult.ml.types import Suggestion
from medconsult.patients import service as patients_service
from medconsult.patients.models import Sex
from tests import factories
from tests.consultations.samples import suggestion
from tests.interview.conftest import Cast
from tests.jobs.fakes import FakeModels


def _answer(state: interview_service.InterviewState) -> AnswerCreate:
    question = state.question
    assert question is not None
    first = question.options[0].value
    return AnswerCreate(
        question=question.code, values=[] if question.kind == "multiple" else [first]
    )


class TestStartingPrior:
    def test_the_classifier_differential_leads_when_it_names_interview_conditions(
        self, session: Session, cast: Cast
    ) -> None:
        key = ml_labels.canonical_key("Possible NSTEMI / STEMI")
        assert key is not None
        factories.create_suggestion(
            session,
            consultation=cast.consultation,
            ranked=[{"label": key, "display_name": "NSTEMI", "icd10": "I21", "probability": 0.9}],
        )

        state = interview_service.start(
            session, actor=cast.patient, consultation_id=cast.consultation.id
        )

        assert state.interview is not None
        assert state.interview.prior_source == "classifier"
        prior = state.interview.prior
        assert max(prior, key=prior.__getitem__) == "Possible NSTEMI / STEMI"

    def test_without_a_suggestion_the_base_rates_and_an_opening_question(
        self, session: Session, cast: Cast
    ) -> None:
        state = interview_service.start(
            session, actor=cast.patient, consultation_id=cast.consultation.id
        )

        assert state.interview is not None
        assert state.interview.prior_source == "base_rates"
        assert state.question is not None
        assert state.question.code in questionnaire.model().openers

    @pytest.mark.parametrize("with_suggestion", [False, True])
    def test_the_first_question_asks_about_the_complaint_in_the_patients_words(
        self, session: Session, cast: Cast, with_suggestion: bool
    ) -> None:
        if with_suggestion:
            key = ml_labels.canonical_key("Pneumonia")
            assert key is not None
            factories.create_suggestion(
                session,
                consultation=cast.consultation,
                ranked=[{"label": key, "display_name": "Pneumonia", "probability": 0.6}],
            )

        state = interview_service.start(
            session, actor=cast.patient, consultation_id=cast.consultation.id
        )

        # "Chest pain ... A tight pain in my chest": the questionnaire's pain question first.
        assert state.question is not None
        assert state.question.code == "E_53"


class TestConfiguredLength:
    def test_stops_after_the_configured_number_of_questions(
        self, session: Session, cast: Cast
    ) -> None:
        settings = get_settings().model_copy(
            update={
                "interview_max_questions": 2,
                "interview_stop_probability": 1.0,
                "interview_min_gain_bits": 0.0,
            }
        )
        state = interview_service.start(
            session, actor=cast.patient, consultation_id=cast.consultation.id, settings=settings
        )

        for _ in range(2):
            state = interview_service.answer(
                session,
                actor=cast.patient,
                consultation_id=cast.consultation.id,
                data=_answer(state),
                settings=settings,
            )

        assert state.interview is not None
        assert state.interview.status is InterviewStatus.finished
        assert state.interview.stop_reason == "max_questions"
        assert state.asked == 2
        assert len(state.interview.differential) == 5


ANSWERS = (
    Answer("E_53", (YES,)),
    Answer("E_55", ("V_101",)),
    Answer("E_56", ("7",)),
    Answer("E_91", unknown=True),
)
SETTINGS_UPDATE = {"job_max_attempts": 5}


def _queued_for_analysis(
    session: Session, cast: Cast, answers: tuple[Answer, ...] = ()
) -> sessionmaker[Session]:
    """The consultation with these interview answers and an analysis job; a worker's session
    factory inside the test's transaction."""
    if answers:
        interview_service.start(session, actor=cast.patient, consultation_id=cast.consultation.id)
        interview = interview_service._load(session, cast.consultation.id)
        assert interview is not None
        interview.answers = [answer.to_dict() for answer in answers]
    factories.create_analysis_job(session, consultation=cast.consultation)
    session.flush()
    return sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")


def _claim(factory: sessionmaker[Session], cast: Cast) -> analysis.Claim:
    with factory() as worker_session, worker_session.begin():
        claimed = analysis.claim(
            worker_session,
            consultation_id=cast.consultation.id,
            models=FakeModels(),
            settings=get_settings().model_copy(update=SETTINGS_UPDATE),
        )
    assert isinstance(claimed, analysis.Claim)
    return claimed


class TestAnalysedText:
    def test_the_analysis_reads_the_answers_after_the_free_text(
        self, session: Session, cast: Cast
    ) -> None:
        claimed = _claim(_queued_for_analysis(session, cast, ANSWERS), cast)

        history = claimed.text.index("A tight pain in my chest")
        intake = claimed.text.index("Intake questionnaire: Pain: ")
        assert history < intake
        assert "in the upper chest" in claimed.text
        assert "intensity 7/10" in claimed.text
        assert "fever" not in claimed.text.lower()  # "don't know" adds nothing

    def test_the_analysis_gets_the_answers_structured_with_age_and_sex(
        self, session: Session, cast: Cast
    ) -> None:
        profile = patients_service.ensure_profile(session, user=cast.patient)
        profile.date_of_birth = date(1970, 6, 1)
        profile.sex = Sex.female
        factory = _queued_for_analysis(session, cast, ANSWERS)
        models = FakeModels(result=suggestion())

        outcome = analysis.analyse(
            factory,
            consultation_id=cast.consultation.id,
            models=models,
            settings=get_settings().model_copy(update=SETTINGS_UPDATE),
        )

        assert outcome == "succeeded"
        (case,) = models.cases
        assert case is not None
        # DDXPlus form: yes/no as booleans, scales as numbers; "don't know" left out.
        assert case.answers == {"E_53": True, "E_55": ["V_101"], "E_56": 7}
        assert case.sex == "F"
        assert case.age == patients_service.age_on(date(1970, 6, 1))

    def test_a_free_text_case_has_no_structured_answers(self, session: Session, cast: Cast) -> None:
        claimed = _claim(_queued_for_analysis(session, cast), cast)

        assert claimed.intake_case is None
        assert claimed.intake_text == ""


class TestQuestionnaireLanguage:
    @pytest.fixture
    def chinese(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (tmp_path / "zh_CN.json").write_text(
            json.dumps(
                {
                    "evidences": {"E_91": {"question": "您发烧吗", "values": {}}},
                    "conditions": {"Pneumonia": "肺炎"},
                }
            ),
            encoding="utf-8",
        )
        monkeypatch.setattr(display, "I18N_DIR", tmp_path)
        display._translations.cache_clear()
        token = i18n.current_locale.set("zh")
        yield
        i18n.current_locale.reset(token)
        display._translations.cache_clear()

    @pytest.mark.usefixtures("chinese")
    def test_translated_text_is_used_and_english_fills_the_gaps(self) -> None:
        texts = questionnaire.texts()

        assert texts.question_text("E_91") == "您发烧吗"
        assert texts.condition_text("Pneumonia") == "肺炎"
        assert texts.question_text("E_53") == texts.questions_en["E_53"]

    def test_english_without_a_translation(self) -> None:
        texts = questionnaire.texts()

        assert texts.question_text("E_91").startswith("Do you have a fever")


class TestReanalysis:
    def test_a_case_a_doctor_has_claimed_keeps_its_analysis(
        self, session: Session, cast: Cast
    ) -> None:
        job = factories.create_analysis_job(session, consultation=cast.consultation)
        cast.consultation.doctor_id = cast.doctor.id
        state = interview_service.start(
            session, actor=cast.patient, consultation_id=cast.consultation.id
        )
        interview_service.answer(
            session, actor=cast.patient, consultation_id=cast.consultation.id, data=_answer(state)
        )

        interview_service.finish(session, actor=cast.patient, consultation_id=cast.consultation.id)

        session.refresh(job)
        assert job.status is JobStatus.succeeded

    def test_answers_given_while_the_analysis_ran_get_an_analysis_of_their_own(
        self, session: Session, cast: Cast
    ) -> None:
        factory = _queued_for_analysis(session, cast)
        settings = get_settings().model_copy(update=SETTINGS_UPDATE)

        def interview_meanwhile() -> None:
            # The patient answers and finishes while the model reads the free text alone.
            state = interview_service.start(
                session, actor=cast.patient, consultation_id=cast.consultation.id
            )
            interview_service.answer(
                session,
                actor=cast.patient,
                consultation_id=cast.consultation.id,
                data=_answer(state),
            )
            interview_service.finish(
                session, actor=cast.patient, consultation_id=cast.consultation.id
            )
            session.flush()

        first = _AnswersWhileRunning(interview_meanwhile)
        outcome = analysis.analyse(
            factory, consultation_id=cast.consultation.id, models=first, settings=settings
        )

        assert outcome == "succeeded"
        assert first.cases == [None]  # it read the free text alone
        job = session.scalars(
            select(AnalysisJob).where(AnalysisJob.consultation_id == cast.consultation.id)
        ).one()
        session.refresh(job)
        assert job.status is JobStatus.queued
        queued = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "consultation.reanalysis.queued",
                AuditEvent.record_id == str(job.id),
            )
        ).all()
        assert [event.details for event in queued] == [{"reason": "intake_answers"}]

        second = FakeModels(result=suggestion())
        assert (
            analysis.analyse(
                factory, consultation_id=cast.consultation.id, models=second, settings=settings
            )
            == "succeeded"
        )
        (case,) = second.cases
        assert case is not None
        assert case.answers  # the answers, read this time
        session.refresh(job)
        assert job.status is JobStatus.succeeded  # nothing new since: not queued again

    def test_an_analysis_that_read_every_answer_is_not_queued_again(
        self, session: Session, cast: Cast
    ) -> None:
        factory = _queued_for_analysis(session, cast, ANSWERS)

        outcome = analysis.analyse(
            factory,
            consultation_id=cast.consultation.id,
            models=FakeModels(result=suggestion()),
            settings=get_settings().model_copy(update=SETTINGS_UPDATE),
        )

        assert outcome == "succeeded"
        job = session.scalars(
            select(AnalysisJob).where(AnalysisJob.consultation_id == cast.consultation.id)
        ).one()
        session.refresh(job)
        assert job.status is JobStatus.succeeded


class _AnswersWhileRunning(FakeModels):
    """A model during whose inference something else happens (``meanwhile``)."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        super().__init__(result=suggestion())
        self.meanwhile = meanwhile

    def suggest(self, text: str, case: StructuredCase | None = None) -> Suggestion:
        self.meanwhile()
        return super().suggest(text, case)
