"""Triage at store time, through the real consultation service on PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.audit.models import AuditEvent
from medconsult.consultations import service as consultations_service
from medconsult.consultations.models import Consultation, ConsultationStatus, Urgency
from medconsult.consultations.schemas import ConsultationCreate
from medconsult.diagnosis import service as diagnosis_service
from medconsult.jobs import analysis
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.ml.types import RankedLabel, Suggestion
from medconsult.review import cases as review_cases
from medconsult.triage import service as triage_service
from medconsult.triage.rules import Flag
from tests import factories


def _submit(
    session: Session, *, complaint: str, history: str = "Since this morning."
) -> Consultation:
    patient = factories.create_patient(session)
    data = ConsultationCreate.model_validate(
        {
            "chief_complaint": complaint,
            "history": history,
            "past_history": "",
            "current_medications": "",
            "ai_consent": True,
            "idempotency_key": uuid.uuid4().hex,
        }
    )
    consultation, _created = consultations_service.submit(
        session, actor=patient, data=data, uploads=[]
    )
    return consultation


def _suggestion(urgency: str) -> Suggestion:
    return Suggestion(
        ranked=(RankedLabel("common_cold", "Common cold", "J00", 0.9),),
        urgency=urgency,  # type: ignore[arg-type]
        abstained=False,
        evidence=(),
        red_flags=(),
        windowed=False,
        n_windows=1,
        model_version="test-model",
    )


class TestTriageOnStore:
    def test_red_flag_text_is_an_emergency_before_any_analysis(self, session: Session) -> None:
        consultation = _submit(
            session,
            complaint="Chest pain",
            history="Crushing chest pain for an hour. I am sweating.",
        )

        session.expire_all()
        stored = session.get(Consultation, consultation.id)

        assert stored is not None
        assert stored.urgency is Urgency.emergency
        assert stored.urgency_rank == 0
        assert stored.triaged_at is not None
        [flag] = stored.red_flags
        assert flag["category"] == "chest_pain"
        assert flag["sentence"] == "Crushing chest pain for an hour."
        assert diagnosis_service.current_suggestion(session, consultation_id=stored.id) is None

    def test_plain_text_is_left_for_the_analysis(self, session: Session) -> None:
        consultation = _submit(session, complaint="Cough", history="No chest pain, just a cough.")

        assert consultation.red_flags == []
        assert consultation.urgency is None
        assert consultation.triaged_at is not None

    def test_creation_audit_names_categories_not_text(self, session: Session) -> None:
        consultation = _submit(session, complaint="I want to end my life")

        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "consultation.create",
                AuditEvent.record_id == str(consultation.id),
            )
        )

        assert event is not None
        assert event.details["red_flags"] == ["suicidal"]
        assert "end my life" not in str(event.details)


class TestModelNeverLowersUrgency:
    def test_routine_suggestion_keeps_the_emergency(self, session: Session) -> None:
        consultation = _submit(session, complaint="My face has dropped on one side")

        diagnosis_service.store_suggestion(
            session,
            consultation=consultation,
            suggestion=_suggestion("self-care"),
            analysed_text="text",
        )

        assert consultation.urgency is Urgency.emergency
        assert consultation.urgency_rank == 0

    @pytest.mark.parametrize(
        ("complaint", "history", "model_urgency", "abstained", "expected"),
        [
            # The model's self-care label and a self-care presentation.
            ("A runny nose", "Since this morning.", "self-care", False, Urgency.self_care),
            # An abstaining model leaves it to the text: a lump sees a doctor.
            ("A lump in my neck", "For a month.", "self-care", True, Urgency.routine),
            # A "see a GP if" cue keeps a self-care label from self-care.
            ("Runny nose and cough", "For five weeks, getting worse.", "self-care", False,
             Urgency.routine),
            # Seeing a doctor keeps the label's urgent.
            ("Cough and fever", "Three days.", "urgent", False, Urgency.urgent),
        ],
    )  # fmt: skip
    def test_unflagged_case_takes_the_three_level_triage(
        self,
        session: Session,
        complaint: str,
        history: str,
        model_urgency: str,
        abstained: bool,
        expected: Urgency,
    ) -> None:
        consultation = _submit(session, complaint=complaint, history=history)
        suggestion = dataclasses.replace(_suggestion(model_urgency), abstained=abstained)

        diagnosis_service.store_suggestion(
            session, consultation=consultation, suggestion=suggestion, analysed_text="text"
        )

        assert consultation.urgency is expected


class TestMergeFlags:
    def test_semantic_flag_is_added_and_raises_urgency(self, session: Session) -> None:
        consultation = _submit(session, complaint="Feeling odd")
        flag = Flag("stroke", "Feeling odd", "Feeling odd", 0, 11, layer="semantic", score=0.7)

        added = triage_service.merge_flags(consultation, [flag])

        assert added == [flag]
        assert consultation.urgency is Urgency.emergency
        assert triage_service.flags_of(consultation) == [flag]

    def test_a_known_category_is_not_duplicated(self, session: Session) -> None:
        consultation = _submit(session, complaint="I passed out at work")
        before = list(consultation.red_flags)
        again = Flag("altered_consciousness", "x", "x", 0, 1, layer="semantic", score=0.9)

        added = triage_service.merge_flags(consultation, [again])

        assert added == []
        assert consultation.red_flags == before


class TestQueueOrder:
    def test_flagged_case_comes_first_without_any_model(self, session: Session) -> None:
        doctor = factories.create_doctor(session)
        plain = _submit(session, complaint="Itchy rash on my hands")
        flagged = _submit(session, complaint="My toddler swallowed a button battery")
        for consultation in (plain, flagged):
            consultation.status = ConsultationStatus.awaiting_review
        session.flush()

        page = review_cases.queue_page(session, actor=doctor, flt=review_cases.QueueFilter())
        order = [row.consultation.id for row in page.rows]

        assert order.index(flagged.id) < order.index(plain.id)


class TestWorkerAddsSemanticFlags:
    def test_store_merges_flags_and_audits_their_categories(self, session: Session) -> None:
        consultation = _submit(session, complaint="A strange feeling in my chest")
        job = session.scalar(
            select(AnalysisJob).where(AnalysisJob.consultation_id == consultation.id)
        )
        assert job is not None
        job.status = JobStatus.running
        session.flush()
        flag = Flag("chest_pain", "A strange feeling", "A strange feeling", 0, 17, "semantic", 0.8)

        stored = analysis.store(
            session,
            consultation_id=consultation.id,
            suggestion=_suggestion("routine"),
            text="A strange feeling in my chest",
            red_flags=[flag],
        )

        assert stored
        assert consultation.urgency is Urgency.emergency
        assert [f["layer"] for f in consultation.red_flags] == ["semantic"]
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "consultation.analysis",
                AuditEvent.patient_id == consultation.patient_id,
            )
        )
        assert event is not None
        assert event.details["semantic_red_flags"] == ["chest_pain"]
