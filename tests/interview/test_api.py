"""The interview through the JSON API: the patient's flow, who may do what, the audit trail."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.audit.models import AuditEvent, Outcome
from medconsult.interview.models import Interview, InterviewStatus
from medconsult.jobs.models import AnalysisJob, JobStatus
from tests import factories
from tests.interview.conftest import Cast, an_answer


def _url(cast: Cast, suffix: str = "") -> str:
    return f"/api/v1/consultations/{cast.consultation.id}/interview{suffix}"


def _actions(session: Session, cast: Cast) -> list[tuple[str, Outcome]]:
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.like("interview.%"))
        .where(AuditEvent.patient_id == cast.patient.id)
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    return [(row.action, row.outcome) for row in rows]


class TestPatientFlow:
    def test_start_answer_and_finish(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        token = factories.login(client, session, cast.patient)
        headers = {"X-CSRF-Token": token}

        started = client.post(_url(cast), headers=headers)
        assert started.status_code == 201, started.text
        first = started.json()["next_question"]
        again = client.post(_url(cast), headers=headers)
        answered = client.post(_url(cast, "/answers"), json=an_answer(first), headers=headers)
        finished = client.post(_url(cast, "/finish"), headers=headers)
        read = client.get(_url(cast))

        assert started.json()["status"] == "in_progress"
        assert first["text"]
        assert first["options"]
        assert first["kind"] in {"binary", "single", "multiple", "scale"}
        assert again.json()["next_question"]["code"] == first["code"]  # same interview
        assert answered.status_code == 200, answered.text
        assert answered.json()["answers"][0]["code"] == first["code"]
        assert finished.json()["status"] == "finished"
        assert finished.json()["stop_reason"] == "patient"
        assert finished.json()["differential"] == []  # the model's numbers are for doctors
        assert read.json()["answers"] == finished.json()["answers"]
        stored = session.scalar(
            select(Interview).where(Interview.consultation_id == cast.consultation.id)
        )
        assert stored is not None
        assert stored.status is InterviewStatus.finished
        assert stored.answers[0]["code"] == first["code"]

    def test_finishing_queues_a_fresh_analysis_with_the_answers(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        factories.create_analysis_job(session, consultation=cast.consultation)
        token = factories.login(client, session, cast.patient)
        headers = {"X-CSRF-Token": token}
        first = client.post(_url(cast), headers=headers).json()["next_question"]
        client.post(_url(cast, "/answers"), json=an_answer(first), headers=headers)

        client.post(_url(cast, "/finish"), headers=headers)

        job = session.scalar(
            select(AnalysisJob).where(AnalysisJob.consultation_id == cast.consultation.id)
        )
        session.refresh(job)
        assert job is not None
        assert job.status is JobStatus.queued

    def test_the_interview_ends_by_itself(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        token = factories.login(client, session, cast.patient)
        headers = {"X-CSRF-Token": token}
        body = client.post(_url(cast), headers=headers).json()

        for _ in range(25):
            if body["next_question"] is None:
                break
            body = client.post(
                _url(cast, "/answers"), json=an_answer(body["next_question"]), headers=headers
            ).json()

        assert body["status"] == "finished"
        assert body["stop_reason"] in {"settled", "low_gain", "max_questions", "exhausted"}
        assert 1 <= body["asked"] <= body["max_questions"] == 20

    def test_dont_know_is_an_answer(self, client: TestClient, session: Session, cast: Cast) -> None:
        token = factories.login(client, session, cast.patient)
        headers = {"X-CSRF-Token": token}
        first = client.post(_url(cast), headers=headers).json()["next_question"]

        body = client.post(
            _url(cast, "/answers"),
            json={"question": first["code"], "unknown": True},
            headers=headers,
        ).json()

        assert body["answers"][0]["unknown"] is True
        assert body["answers"][0]["answer"] == "Don't know"


class TestRefusedAnswers:
    def test_an_answer_to_another_question_is_a_conflict(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        token = factories.login(client, session, cast.patient)
        headers = {"X-CSRF-Token": token}
        first = client.post(_url(cast), headers=headers).json()["next_question"]
        client.post(_url(cast, "/answers"), json=an_answer(first), headers=headers)

        replay = client.post(_url(cast, "/answers"), json=an_answer(first), headers=headers)

        assert replay.status_code == 409

    def test_a_value_the_question_does_not_offer_is_refused(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        token = factories.login(client, session, cast.patient)
        headers = {"X-CSRF-Token": token}
        first = client.post(_url(cast), headers=headers).json()["next_question"]

        response = client.post(
            _url(cast, "/answers"),
            json={"question": first["code"], "values": ["V_not_a_value"]},
            headers=headers,
        )

        assert response.status_code == 422
        assert response.json()["error"]["fields"] == {
            "values": "Please choose one of the answers offered."
        }


class TestAccess:
    def _started(self, client: TestClient, session: Session, cast: Cast) -> dict[str, object]:
        token = factories.login(client, session, cast.patient)
        headers = {"X-CSRF-Token": token}
        first = client.post(_url(cast), headers=headers).json()["next_question"]
        body: dict[str, object] = client.post(
            _url(cast, "/answers"), json=an_answer(first), headers=headers
        ).json()
        client.cookies.clear()
        return body

    def test_another_patient_is_told_it_does_not_exist(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        self._started(client, session, cast)
        token = factories.login(client, session, cast.other_patient)

        read = client.get(_url(cast))
        start = client.post(_url(cast), headers={"X-CSRF-Token": token})
        finish = client.post(_url(cast, "/finish"), headers={"X-CSRF-Token": token})

        assert (read.status_code, start.status_code, finish.status_code) == (404, 404, 404)
        assert "Chest pain" not in read.text

    def test_a_doctor_reads_the_answers_but_does_not_answer(
        self, client: TestClient, session: Session, cast: Cast
    ) -> None:
        body = self._started(client, session, cast)
        token = factories.login(client, session, cast.doctor)

        read = client.get(_url(cast))
        finish = client.post(_url(cast, "/finish"), headers={"X-CSRF-Token": token})

        assert read.status_code == 200
        assert read.json()["answers"] == body["answers"]
        assert finish.status_code == 403

    def test_an_admin_gets_403(self, client: TestClient, session: Session, cast: Cast) -> None:
        self._started(client, session, cast)
        factories.login(client, session, cast.admin)

        read = client.get(_url(cast))

        assert read.status_code == 403

    def test_every_call_is_audited(self, client: TestClient, session: Session, cast: Cast) -> None:
        self._started(client, session, cast)
        factories.login(client, session, cast.doctor)
        client.get(_url(cast))
        factories.login(client, session, cast.other_patient)
        client.get(_url(cast))

        actions = _actions(session, cast)

        assert ("interview.start", Outcome.success) in actions
        assert ("interview.answer", Outcome.success) in actions
        assert ("interview.read", Outcome.success) in actions
        assert ("interview.read", Outcome.denied) in actions
