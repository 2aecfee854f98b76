"""Doctor review service: claiming, signing off, amendments, the queue and evidence segments."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from medconsult.accounts.models import User
from medconsult.audit.models import AuditEvent, Outcome
from medconsult.consultations.models import Consultation, ConsultationStatus, Urgency
from medconsult.db import utcnow
from medconsult.diagnosis import service as diagnosis_service
from medconsult.errors import Conflict, Forbidden, ValidationFailed
from medconsult.jobs.models import JobStatus
from medconsult.review import cases as review_cases
from medconsult.review import queries as review_queries
from medconsult.review import service as review_service
from medconsult.review.models import Decision, DoctorReview
from medconsult.review.schemas import ReviewCreate
from tests.factories import (
    create_admin,
    create_analysis_job,
    create_consultation,
    create_doctor,
    create_patient,
    create_suggestion,
)


def _claimed_case(session: Session, doctor: User) -> Consultation:
    consultation = create_consultation(session, patient=create_patient(session))
    create_suggestion(session, consultation=consultation)
    review_service.claim(session, actor=doctor, consultation_id=consultation.id)
    return consultation


def _audit_actions(session: Session, record_id: uuid.UUID) -> list[tuple[str, Outcome]]:
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.outcome)
        .where(AuditEvent.record_id == str(record_id))
        .order_by(AuditEvent.seq)
    )
    return [(action, outcome) for action, outcome in rows]


class TestClaim:
    def test_sets_doctor_and_status_and_audits(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = create_consultation(session, patient=create_patient(session))

        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        assert consultation.doctor_id == doctor.id
        assert consultation.status is ConsultationStatus.in_review
        assert ("consultation.claimed", Outcome.success) in _audit_actions(session, consultation.id)

    def test_second_doctor_gets_conflict(self, session: Session) -> None:
        first, second = create_doctor(session), create_doctor(session)
        consultation = create_consultation(session, patient=create_patient(session))
        review_service.claim(session, actor=first, consultation_id=consultation.id)

        with pytest.raises(Conflict):
            review_service.claim(session, actor=second, consultation_id=consultation.id)

        assert consultation.doctor_id == first.id

    def test_concluded_case_cannot_be_claimed(self, session: Session) -> None:
        consultation = create_consultation(
            session, patient=create_patient(session), status=ConsultationStatus.concluded
        )

        with pytest.raises(Conflict):
            review_service.claim(
                session, actor=create_doctor(session), consultation_id=consultation.id
            )

        assert consultation.doctor_id is None

    def test_admin_is_refused_and_audited(self, session: Session) -> None:
        consultation = create_consultation(session, patient=create_patient(session))

        with pytest.raises(Forbidden):
            review_service.claim(
                session, actor=create_admin(session), consultation_id=consultation.id
            )

        assert consultation.doctor_id is None
        assert ("consultation.claimed", Outcome.denied) in _audit_actions(session, consultation.id)


@pytest.fixture
def committed_case(engine: Engine) -> Iterator[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """Two doctors and a consultation committed for real, so two connections can race."""
    with Session(engine) as session, session.begin():
        first, second = create_doctor(session), create_doctor(session)
        patient = create_patient(session)
        consultation = create_consultation(session, patient=patient)
        ids = (first.id, second.id, patient.id, consultation.id)
    yield ids[0], ids[1], ids[3]
    with Session(engine) as session, session.begin():
        session.execute(delete(Consultation).where(Consultation.id == ids[3]))
        session.execute(delete(User).where(User.id.in_(ids[:3])))


class TestClaimRace:
    def test_two_doctors_at_once_only_one_wins(
        self, engine: Engine, committed_case: tuple[uuid.UUID, uuid.UUID, uuid.UUID]
    ) -> None:
        first_id, second_id, consultation_id = committed_case
        second_result: list[object] = []

        def second_doctor_claims() -> None:
            with Session(engine) as other:
                try:
                    doctor = other.get(User, second_id)
                    assert doctor is not None
                    review_service.claim(other, actor=doctor, consultation_id=consultation_id)
                    other.commit()
                    second_result.append("claimed")
                except Conflict as exc:
                    other.rollback()
                    second_result.append(exc)

        with Session(engine) as first:
            doctor = first.get(User, first_id)
            assert doctor is not None
            review_service.claim(first, actor=doctor, consultation_id=consultation_id)
            racer = threading.Thread(target=second_doctor_claims)
            racer.start()
            time.sleep(0.5)
            blocked_while_first_open = racer.is_alive()
            first.commit()
            racer.join(timeout=10)

        assert blocked_while_first_open
        assert len(second_result) == 1
        assert isinstance(second_result[0], Conflict)
        with Session(engine) as check:
            stored = check.get(Consultation, consultation_id)
            assert stored is not None
            assert stored.doctor_id == first_id


class TestRelease:
    def test_returns_case_to_queue(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        review_service.release(session, actor=doctor, consultation_id=consultation.id)

        assert consultation.doctor_id is None
        assert consultation.status is ConsultationStatus.awaiting_review

    def test_running_analysis_goes_back_to_analysing(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = create_consultation(
            session, patient=create_patient(session), status=ConsultationStatus.analysing
        )
        create_analysis_job(session, consultation=consultation, status=JobStatus.running)
        review_service.claim(session, actor=doctor, consultation_id=consultation.id)

        review_service.release(session, actor=doctor, consultation_id=consultation.id)

        assert consultation.status is ConsultationStatus.analysing

    def test_other_doctor_cannot_release(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        with pytest.raises(Forbidden):
            review_service.release(
                session, actor=create_doctor(session), consultation_id=consultation.id
            )

        assert consultation.doctor_id == doctor.id


class TestSignOff:
    def test_accept_records_chosen_ranked_label(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)
        suggestion = diagnosis_service.current_suggestion(session, consultation_id=consultation.id)

        review = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.accept, accepted_label="common_cold", advice="Rest"
            ),
        )

        assert review.final_label == "common_cold"
        assert review.final_diagnosis == "Common cold"
        assert review.icd10_code == "J00"
        assert suggestion is not None
        assert review.suggestion_id == suggestion.id
        assert review.doctor_id == doctor.id
        assert consultation.status is ConsultationStatus.concluded
        assert consultation.concluded_at is not None
        assert ("review.signed", Outcome.success) in _audit_actions(session, review.id)

    def test_accept_of_label_not_in_suggestion_is_refused(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        with pytest.raises(ValidationFailed) as raised:
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(decision=Decision.accept, accepted_label="malaria"),
            )

        assert "accepted_label" in raised.value.errors
        assert consultation.status is ConsultationStatus.in_review

    def test_modify_with_label_from_list(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        review = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(decision=Decision.modify, label_key="malaria"),
        )

        assert (review.final_label, review.final_diagnosis, review.icd10_code) == (
            "malaria",
            "Malaria",
            "B54",
        )

    def test_modify_with_free_text_and_icd10_code(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        review = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.modify,
                diagnosis="Influenza, virus not identified",
                icd10_code="j11.1",
            ),
        )

        assert review.final_label is None
        assert review.final_diagnosis == "Influenza, virus not identified"
        assert review.icd10_code == "J11.1"

    @pytest.mark.parametrize("code", ["U07.1", "J1", "11.1", "J11.12345", "<b>J11</b>"])
    def test_malformed_icd10_code_is_refused(self, session: Session, code: str) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        with pytest.raises(ValidationFailed) as raised:
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(decision=Decision.modify, diagnosis="Flu", icd10_code=code),
            )

        assert "icd10_code" in raised.value.errors
        assert review_queries.latest_review(session, consultation_id=consultation.id) is None

    def test_modify_without_diagnosis_is_refused(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        with pytest.raises(ValidationFailed) as raised:
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(decision=Decision.modify, advice="Drink water"),
            )

        assert "label_key" in raised.value.errors
        assert consultation.status is ConsultationStatus.in_review

    def test_reject_needs_a_reason(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        with pytest.raises(ValidationFailed) as raised:
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(decision=Decision.reject),
            )

        assert "reject_reason" in raised.value.errors

    def test_reject_with_reason(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        review = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.reject,
                reject_reason="Needs an in-person examination",
                advice="See your GP this week.",
            ),
        )

        assert review.decision is Decision.reject
        assert review.final_diagnosis == ""
        assert review.reject_reason == "Needs an in-person examination"

    def test_oversized_advice_is_refused(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)

        with pytest.raises(ValidationFailed) as raised:
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(
                    decision=Decision.modify, label_key="malaria", advice="x" * 20_001
                ),
            )

        assert "advice" in raised.value.errors
        assert consultation.status is ConsultationStatus.in_review

    def test_unclaimed_case_cannot_be_reviewed(self, session: Session) -> None:
        consultation = create_consultation(session, patient=create_patient(session))

        with pytest.raises(Conflict):
            review_service.submit_review(
                session,
                actor=create_doctor(session),
                consultation_id=consultation.id,
                data=ReviewCreate(decision=Decision.modify, label_key="malaria"),
            )

        assert review_queries.latest_review(session, consultation_id=consultation.id) is None

    def test_another_doctors_case_cannot_be_reviewed(self, session: Session) -> None:
        consultation = _claimed_case(session, create_doctor(session))

        with pytest.raises(Forbidden):
            review_service.submit_review(
                session,
                actor=create_doctor(session),
                consultation_id=consultation.id,
                data=ReviewCreate(decision=Decision.modify, label_key="malaria"),
            )

        assert consultation.status is ConsultationStatus.in_review

    def test_second_sign_off_is_refused(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)
        data = ReviewCreate(decision=Decision.modify, label_key="malaria")
        review_service.submit_review(
            session, actor=doctor, consultation_id=consultation.id, data=data
        )

        with pytest.raises(Conflict):
            review_service.submit_review(
                session, actor=doctor, consultation_id=consultation.id, data=data
            )

        assert len(review_queries.review_history(session, consultation_id=consultation.id)) == 1


class TestAmendment:
    def _signed(self, session: Session, doctor: User) -> tuple[Consultation, DoctorReview]:
        consultation = _claimed_case(session, doctor)
        review = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.accept,
                accepted_label="pneumonia",
                advice="Antibiotics",
                private_note="n1",
            ),
        )
        return consultation, review

    def test_creates_new_row_and_leaves_old_unchanged(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation, original = self._signed(session, doctor)
        before = (original.final_label, original.advice, original.signed_at, original.private_note)

        amendment = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(
                decision=Decision.modify,
                label_key="bronchial_asthma",
                advice="Inhaler",
                amends_id=original.id,
            ),
        )

        session.expire_all()
        stored = session.get(DoctorReview, original.id)
        assert stored is not None
        assert (stored.final_label, stored.advice, stored.signed_at, stored.private_note) == before
        assert amendment.id != original.id
        assert amendment.amends_id == original.id
        assert review_queries.latest_review(session, consultation_id=consultation.id) == amendment
        assert [
            r.id for r in review_queries.review_history(session, consultation_id=consultation.id)
        ] == [
            amendment.id,
            original.id,
        ]
        assert ("review.amended", Outcome.success) in _audit_actions(session, amendment.id)

    def test_history_and_conclusions_agree_with_the_separate_queries(
        self, session: Session
    ) -> None:
        doctor = create_doctor(session)
        amended, original = self._signed(session, doctor)
        amendment = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=amended.id,
            data=ReviewCreate(decision=Decision.modify, label_key="malaria", amends_id=original.id),
        )
        other, other_review = self._signed(session, doctor)
        unreviewed = _claimed_case(session, doctor)

        history, conclusions = review_queries.history_and_conclusions(
            session, consultation_id=other.id, other_ids=[amended.id, unreviewed.id]
        )

        assert history == review_queries.review_history(session, consultation_id=other.id)
        assert history == [other_review]
        assert conclusions == review_queries.latest_reviews_for(
            session, consultation_ids=[amended.id, unreviewed.id]
        )
        assert conclusions == {amended.id: amendment}
        history, conclusions = review_queries.history_and_conclusions(
            session, consultation_id=amended.id, other_ids=[]
        )
        assert [review.id for review in history] == [amendment.id, original.id]
        assert conclusions == {}

    def test_stale_amendment_is_refused(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation, original = self._signed(session, doctor)
        review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(decision=Decision.modify, label_key="malaria", amends_id=original.id),
        )

        with pytest.raises(Conflict):
            review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(
                    decision=Decision.modify, label_key="dengue", amends_id=original.id
                ),
            )

        assert len(review_queries.review_history(session, consultation_id=consultation.id)) == 2

    def test_other_doctor_cannot_amend(self, session: Session) -> None:
        consultation, original = self._signed(session, create_doctor(session))

        with pytest.raises(Forbidden):
            review_service.submit_review(
                session,
                actor=create_doctor(session),
                consultation_id=consultation.id,
                data=ReviewCreate(
                    decision=Decision.modify, label_key="malaria", amends_id=original.id
                ),
            )

        assert review_queries.latest_review(session, consultation_id=consultation.id) == original


class TestLatestReview:
    def test_none_before_sign_off(self, session: Session) -> None:
        consultation = _claimed_case(session, create_doctor(session))

        latest = review_queries.latest_review(session, consultation_id=consultation.id)

        assert latest is None

    def test_follows_the_amendment_chain(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)
        current = review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(decision=Decision.modify, label_key="malaria"),
        )
        for key in ("dengue", "typhoid"):
            current = review_service.submit_review(
                session,
                actor=doctor,
                consultation_id=consultation.id,
                data=ReviewCreate(decision=Decision.modify, label_key=key, amends_id=current.id),
            )

        latest = review_queries.latest_review(session, consultation_id=consultation.id)

        assert latest is not None
        assert latest.final_label == "typhoid"


class TestQueue:
    def test_emergency_first_then_longest_waiting(self, session: Session) -> None:
        doctor = create_doctor(session)
        patient = create_patient(session)
        now = utcnow()
        routine_old = create_consultation(session, patient=patient, chief_complaint="routine old")
        create_suggestion(session, consultation=routine_old, urgency="routine")
        routine_old.submitted_at = now - timedelta(hours=5)
        emergency_new = create_consultation(session, patient=patient, chief_complaint="emergency")
        create_suggestion(session, consultation=emergency_new, urgency="emergency")
        emergency_new.submitted_at = now - timedelta(minutes=1)
        routine_new = create_consultation(session, patient=patient, chief_complaint="routine new")
        create_suggestion(session, consultation=routine_new, urgency="routine")
        routine_new.submitted_at = now - timedelta(hours=1)
        session.flush()

        page = review_cases.queue_page(session, actor=doctor, flt=review_cases.QueueFilter())

        mine = [r.consultation.id for r in page.rows if r.consultation.patient_id == patient.id]
        assert mine == [emergency_new.id, routine_old.id, routine_new.id]

    def test_filters_by_urgency_status_and_mine(self, session: Session) -> None:
        doctor = create_doctor(session)
        claimed = _claimed_case(session, doctor)
        other = create_consultation(session, patient=create_patient(session))
        create_suggestion(session, consultation=other, urgency="urgent")

        mine = review_cases.queue_page(
            session, actor=doctor, flt=review_cases.QueueFilter(mine=True)
        )
        urgent = review_cases.queue_page(
            session, actor=doctor, flt=review_cases.QueueFilter(urgency=Urgency.urgent)
        )
        in_review = review_cases.queue_page(
            session, actor=doctor, flt=review_cases.QueueFilter(status="in_review")
        )

        assert [r.consultation.id for r in mine.rows] == [claimed.id]
        assert other.id in {r.consultation.id for r in urgent.rows}
        assert claimed.id not in {r.consultation.id for r in urgent.rows}
        assert claimed.id in {r.consultation.id for r in in_review.rows}
        assert other.id not in {r.consultation.id for r in in_review.rows}
        assert mine.counts["in_review"] == 1

    def test_concluded_cases_leave_the_open_queue(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = _claimed_case(session, doctor)
        review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(decision=Decision.modify, label_key="malaria"),
        )

        page = review_cases.queue_page(session, actor=doctor, flt=review_cases.QueueFilter())

        assert consultation.id not in {r.consultation.id for r in page.rows}

    def test_refreshes_are_audited_only_when_the_page_changes(self, session: Session) -> None:
        doctor = create_doctor(session)
        patient = create_patient(session)
        create_consultation(session, patient=patient, chief_complaint="first")
        session.flush()

        def reads() -> int:
            return len(
                session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.actor_id == doctor.id,
                        AuditEvent.action == "consultation.queue.read",
                    )
                ).all()
            )

        flt = review_cases.QueueFilter(mine=False)
        review_cases.queue_page(session, actor=doctor, flt=flt)
        assert reads() == 1
        for _ in range(3):  # the table's periodic refresh shows the same cases
            review_cases.queue_page(session, actor=doctor, flt=flt, refresh=True)
        assert reads() == 1

        create_consultation(session, patient=patient, chief_complaint="second")
        session.flush()
        review_cases.queue_page(session, actor=doctor, flt=flt, refresh=True)
        assert reads() == 2  # a new case was disclosed

        review_cases.queue_page(session, actor=doctor, flt=flt)
        assert reads() == 3  # opening the page is always audited

    def test_patient_cannot_read_the_queue(self, session: Session) -> None:
        patient = create_patient(session)

        with pytest.raises(Forbidden):
            review_cases.queue_page(session, actor=patient, flt=review_cases.QueueFilter())


class TestQueueCounts:
    @staticmethod
    def _conclude(session: Session, doctor: User, consultation: Consultation) -> None:
        review_service.submit_review(
            session,
            actor=doctor,
            consultation_id=consultation.id,
            data=ReviewCreate(decision=Decision.modify, label_key="malaria"),
        )

    def test_counts_follow_status_changes(self, session: Session) -> None:
        doctor = create_doctor(session)
        first, second = _claimed_case(session, doctor), _claimed_case(session, doctor)
        mine = review_cases.QueueFilter(mine=True)

        before = review_cases.queue_page(session, actor=doctor, flt=mine)
        self._conclude(session, doctor, first)
        after = review_cases.queue_page(session, actor=doctor, flt=mine)
        review_service.release(session, actor=doctor, consultation_id=second.id)
        released = review_cases.queue_page(session, actor=doctor, flt=mine)

        assert (before.counts["in_review"], before.counts["concluded"], before.total) == (2, 0, 2)
        assert (after.counts["in_review"], after.counts["concluded"], after.total) == (1, 1, 1)
        assert released.counts["in_review"] == 0
        assert (before.capped, after.capped, after.total_capped) == (set(), set(), False)

    def test_pages_follow_the_display_order(self, session: Session) -> None:
        doctor = create_doctor(session)
        cases = [_claimed_case(session, doctor) for _ in range(5)]
        for index, consultation in enumerate(cases):
            consultation.urgency_rank = index % 2
            consultation.submitted_at = utcnow() - timedelta(hours=index)
        self._conclude(session, doctor, cases[4])
        session.flush()
        everything = review_cases.QueueFilter(status="all", mine=True)

        pages = [
            review_cases.queue_page(session, actor=doctor, flt=everything, page=n, per_page=2)
            for n in (1, 2, 3)
        ]

        expected = sorted(cases, key=lambda c: (c.urgency_rank, c.submitted_at, c.id))
        assert [[r.consultation.id for r in p.rows] for p in pages] == [
            [c.id for c in expected[0:2]],
            [c.id for c in expected[2:4]],
            [expected[4].id],
        ]
        assert [r.suggestion is not None for p in pages for r in p.rows] == [True] * 5

    def test_finished_statuses_are_counted_up_to_the_cap(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(review_cases, "QUEUE_COUNT_CAP", 2)
        doctor = create_doctor(session)
        for _ in range(3):
            self._conclude(session, doctor, _claimed_case(session, doctor))
        for _ in range(3):
            _claimed_case(session, doctor)
        concluded = review_cases.QueueFilter(status="concluded", mine=True)

        first = review_cases.queue_page(session, actor=doctor, flt=concluded, per_page=2)
        second = review_cases.queue_page(session, actor=doctor, flt=concluded, page=2, per_page=2)
        everything = review_cases.queue_page(
            session, actor=doctor, flt=review_cases.QueueFilter(status="all", mine=True), per_page=2
        )

        # Open work is always counted exactly; the finished history only as far as needed.
        assert first.counts["in_review"] == 3
        assert (first.counts["concluded"], first.capped) == (2, {"concluded"})
        assert (first.total, first.total_capped, first.has_next) == (2, True, True)
        assert len(first.rows) == 2
        # The second page counts past its own end: exactly 3, so no third page.
        assert (second.counts["concluded"], second.capped) == (3, set())
        assert (second.total, second.total_capped, second.has_next) == (3, False, False)
        assert len(second.rows) == 1
        assert (everything.total, everything.total_capped) == (5, True)


class TestEvidenceSegments:
    def test_segments_add_up_to_the_text(self) -> None:
        text = "fever and dry cough"

        segments = review_cases.evidence_segments(
            text, [{"start": 10, "end": 19}, {"start": 0, "end": 5}]
        )

        assert [(s.text, s.is_evidence) for s in segments] == [
            ("fever", True),
            (" and ", False),
            ("dry cough", True),
        ]

    def test_overlapping_and_invalid_spans(self) -> None:
        text = "abcdefghij"

        segments = review_cases.evidence_segments(
            text,
            [
                {"start": 2, "end": 5},
                {"start": 4, "end": 7},
                {"start": 8, "end": 99},
                {"start": 6, "end": 3},
                {"start": "x", "end": 2},
                {"end": 2},
            ],
        )

        assert "".join(s.text for s in segments) == text
        assert [(s.text, s.is_evidence) for s in segments] == [
            ("ab", False),
            ("cdefg", True),
            ("h", False),
            ("ij", True),
        ]


class TestCaseShowsWhatTheAIDidNotRead:
    def test_text_beyond_the_analysis_limit_is_counted(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = create_consultation(
            session, patient=create_patient(session), history="Fever for a week."
        )
        full = diagnosis_service.compose_analysed_text(consultation, max_chars=10_000)
        create_suggestion(session, consultation=consultation, analysed_text=full[:20])

        case = review_cases.get_case(session, actor=doctor, consultation_id=consultation.id)

        assert case.unanalysed_chars == len(full) - 20

    def test_nothing_unread_when_the_whole_text_was_analysed(self, session: Session) -> None:
        doctor = create_doctor(session)
        consultation = create_consultation(session, patient=create_patient(session))
        full = diagnosis_service.compose_analysed_text(consultation, max_chars=10_000)
        create_suggestion(session, consultation=consultation, analysed_text=full)

        case = review_cases.get_case(session, actor=doctor, consultation_id=consultation.id)

        assert case.unanalysed_chars == 0
