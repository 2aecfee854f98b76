"""FHIR Patient/$everything: every resource validates with fhir.resources; access is checked."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.audit.models import AuditEvent, Outcome
from medconsult.consultations.models import Consultation
from medconsult.interview import questionnaire
from medconsult.interview.engine import YES, Answer
from medconsult.interview.models import Interview, InterviewStatus
from medconsult.records import service
from tests import factories
from tests.records.conftest import PATIENT_EMAIL, PATIENT_NAME, Record


def _by_type(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        grouped.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return grouped


def _validate_every_resource(bundle: dict[str, Any]) -> None:
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        model = get_fhir_model_class(resource["resourceType"])
        parsed = model.model_validate(resource)
        assert json.loads(parsed.model_dump_json()) == resource


def add_interview(session: Session, consultation: Consultation) -> None:
    """A finished intake interview with two answers: pain (yes) and where it is."""
    session.add(
        Interview(
            consultation_id=consultation.id,
            status=InterviewStatus.finished,
            answers=[Answer("E_53", (YES,)).to_dict(), Answer("E_55", ("V_101",)).to_dict()],
            max_questions=20,
        )
    )
    session.flush()


class TestEverythingBundle:
    def test_every_resource_validates(self, session: Session, record: Record) -> None:
        bundle = service.patient_everything(
            session, actor=record.doctor, patient_id=record.patient.id, base_url="https://x/fhir/"
        )

        document = service.bundle_dict(bundle)

        _validate_every_resource(document)
        assert document["type"] == "searchset"
        assert document["total"] == len(document["entry"])

    def test_contents(self, session: Session, record: Record) -> None:
        bundle = service.patient_everything(
            session, actor=record.patient, patient_id=record.patient.id, base_url="https://x/fhir/"
        )

        grouped = _by_type(service.bundle_dict(bundle))

        patient = grouped["Patient"][0]
        assert patient["name"][0]["text"] == PATIENT_NAME
        assert patient["birthDate"] == "1984-05-17"
        assert {"system": "email", "value": PATIENT_EMAIL} in patient["telecom"]
        assert {e["id"] for e in grouped["Encounter"]} == {
            str(record.signed.id),
            str(record.unsigned.id),
        }
        assert len(grouped["QuestionnaireResponse"]) == 2
        document = grouped["DocumentReference"][0]
        extracted = document["content"][1]["attachment"]["data"]
        assert base64.b64decode(extracted).decode() == record.report.extracted_text
        risk = grouped["RiskAssessment"][0]
        assert risk["prediction"][0]["outcome"]["coding"][0] == {
            "system": "http://hl7.org/fhir/sid/icd-10",
            "code": "J18.9",
            "display": "Pneumonia",
        }
        assert risk["prediction"][0]["probabilityDecimal"] == pytest.approx(0.62)
        assert "Decision support only" in risk["note"][0]["text"]
        device = grouped["Device"][0]
        assert device["version"][0]["value"] == record.suggestion.model_version
        assert risk["performer"]["reference"] == f"Device/{device['id']}"
        condition = grouped["Condition"][0]
        assert condition["code"]["coding"][0]["code"] == "J18.9"
        assert condition["verificationStatus"]["coding"][0]["code"] == "confirmed"
        assert condition["recorder"]["reference"] == f"Practitioner/{record.doctor.id}"
        provenance = grouped["Provenance"][0]
        assert {"reference": f"Condition/{record.review.id}"} in provenance["target"]
        assert provenance["agent"][0]["who"]["reference"] == f"Practitioner/{record.doctor.id}"
        assert [c["payload"][0]["contentString"] for c in grouped["Communication"]] == [
            "Is it contagious?",
            "For a few days, yes.",
        ]
        assert grouped["Practitioner"][0]["id"] == str(record.doctor.id)

    def test_interview_answers_are_a_questionnaire_response(
        self, session: Session, record: Record
    ) -> None:
        add_interview(session, record.signed)

        bundle = service.bundle_dict(
            service.patient_everything(
                session, actor=record.patient, patient_id=record.patient.id, base_url="https://x/"
            )
        )

        _validate_every_resource(bundle)
        responses = {r["id"]: r for r in _by_type(bundle)["QuestionnaireResponse"]}
        interview = responses[f"interview-{record.signed.id}"]
        texts = questionnaire.texts()
        assert [item["linkId"] for item in interview["item"]] == ["E_53", "E_55"]
        assert interview["item"][0]["text"] == texts.question_text("E_53")
        assert interview["item"][0]["answer"] == [{"valueString": "Yes"}]
        assert interview["item"][1]["answer"][0]["valueString"] == texts.value_text("E_55", "V_101")
        assert interview["encounter"]["reference"] == f"Encounter/{record.signed.id}"
        assert f"interview-{record.unsigned.id}" not in responses  # no interview, no resource

    def test_private_note_never_exported(self, session: Session, record: Record) -> None:
        record.review.private_note = "Private: suspect non-adherence"
        session.flush()

        bundle = service.patient_everything(
            session, actor=record.doctor, patient_id=record.patient.id, base_url="https://x/"
        )

        assert "non-adherence" not in service.export_json(bundle)

    def test_read_is_audited(self, session: Session, record: Record) -> None:
        service.patient_everything(
            session, actor=record.doctor, patient_id=record.patient.id, base_url="https://x/"
        )

        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "records.fhir.read")
            .order_by(AuditEvent.seq.desc())
        )
        assert event is not None
        assert event.actor_id == record.doctor.id
        assert event.patient_id == record.patient.id
        assert event.outcome is Outcome.success


class TestEverythingApi:
    def test_patient_reads_own(self, client: TestClient, session: Session, record: Record) -> None:
        factories.login(client, session, record.patient)

        response = client.get(f"/api/v1/fhir/Patient/{record.patient.id}/$everything")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+json")
        document = response.json()
        _validate_every_resource(document)
        assert document["entry"][0]["fullUrl"] == (
            f"https://testserver/api/v1/fhir/Patient/{record.patient.id}"
        )

    def test_doctor_reads_patient(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        factories.login(client, session, record.doctor)

        response = client.get(f"/api/v1/fhir/Patient/{record.patient.id}/$everything")

        assert response.status_code == 200
        assert response.json()["total"] > 5

    def test_another_patient_gets_404(
        self, client: TestClient, session: Session, record: Record
    ) -> None:
        other = factories.create_patient(session, full_name="Other Person")
        factories.login(client, session, other)

        response = client.get(f"/api/v1/fhir/Patient/{record.patient.id}/$everything")

        assert response.status_code == 404
        assert PATIENT_NAME not in response.text
        denied = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "records.fhir.read", AuditEvent.actor_id == other.id
            )
        )
        assert denied is not None
        assert denied.outcome is Outcome.denied

    def test_unknown_patient_gets_404(self, client: TestClient, session: Session) -> None:
        doctor = factories.create_doctor(session)
        factories.login(client, session, doctor)

        response = client.get(f"/api/v1/fhir/Patient/{uuid.uuid4()}/$everything")

        assert response.status_code == 404

    def test_admin_is_refused(self, client: TestClient, session: Session, record: Record) -> None:
        factories.login(client, session, factories.create_admin(session))

        response = client.get(f"/api/v1/fhir/Patient/{record.patient.id}/$everything")

        assert response.status_code == 403

    def test_signed_out_is_refused(self, client: TestClient, record: Record) -> None:
        response = client.get(f"/api/v1/fhir/Patient/{record.patient.id}/$everything")

        assert response.status_code == 401
