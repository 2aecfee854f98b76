"""FHIR R4 (the R4B models of ``fhir.resources``): a patient's record as a searchset Bundle.

Pure functions from the collected record (``records/service.py``) to validated resources; every
resource is built through the ``fhir.resources`` models, so an invalid one fails here, not in a
receiving system. The doctor's private note never leaves the platform.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.riskassessment import RiskAssessment

from medconsult.accounts.models import Role, User
from medconsult.consultations.models import Consultation, ConsultationStatus, Message, ReportFile
from medconsult.diagnosis.models import AISuggestion
from medconsult.diagnosis.service import ABSTAIN_REASON_LABELS
from medconsult.i18n import N_, _
from medconsult.interview.questionnaire import AnswerView
from medconsult.ml.language import UNSUPPORTED_LANGUAGE
from medconsult.patients.models import PatientProfile
from medconsult.review.models import Decision, DoctorReview

ICD10 = "http://hl7.org/fhir/sid/icd-10"
IDENTIFIER_SYSTEM = "urn:medconsult:user"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"

ENCOUNTER_STATUS = {
    ConsultationStatus.submitted: "arrived",
    ConsultationStatus.analysing: "triaged",
    ConsultationStatus.awaiting_review: "triaged",
    ConsultationStatus.in_review: "in-progress",
    ConsultationStatus.concluded: "finished",
    ConsultationStatus.closed: "finished",
}


@dataclass
class ConsultationRecord:
    consultation: Consultation
    reports: list[ReportFile]
    suggestions: list[AISuggestion]  # oldest first
    reviews: list[DoctorReview]  # oldest first; the last one no amendment replaced is current
    messages: list[Message]
    # The intake interview's answers in words (question, answer), in the reader's language.
    interview_answers: tuple[AnswerView, ...] = ()


@dataclass
class PatientRecord:
    patient: User
    profile: PatientProfile | None
    consultations: list[ConsultationRecord] = field(default_factory=list)


def _instant(value: datetime) -> str:
    return value.isoformat()


def device_id(model_version: str) -> str:
    """A FHIR id (64 chars of [A-Za-z0-9.-] at most) for a model version of any spelling."""
    return "model-" + hashlib.sha256(model_version.encode()).hexdigest()[:32]


def _ref(kind: str, ident: object, display: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": f"{kind}/{ident}"}
    if display:
        ref["display"] = display
    return ref


def _person_ref(user: User) -> dict[str, Any]:
    kind = "Patient" if user.role is Role.patient else "Practitioner"
    return _ref(kind, user.id, user.full_name or None)


def patient_resource(patient: User, profile: PatientProfile | None) -> Patient:
    data: dict[str, Any] = {
        "id": str(patient.id),
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": str(patient.id)}],
        "active": patient.is_active and patient.erased_at is None,
    }
    name = (profile.full_name if profile else "") or patient.full_name
    if name:
        data["name"] = [{"text": name}]
    telecom = []
    if patient.erased_at is None:
        telecom.append({"system": "email", "value": patient.email})
    if profile and profile.phone:
        telecom.append({"system": "phone", "value": profile.phone})
    if telecom:
        data["telecom"] = telecom
    if profile is not None:
        data["gender"] = profile.sex.value
        if profile.date_of_birth:
            data["birthDate"] = profile.date_of_birth.isoformat()
    return Patient(**data)


def practitioner_resource(doctor: User) -> Practitioner:
    data: dict[str, Any] = {
        "id": str(doctor.id),
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": str(doctor.id)}],
        "active": doctor.is_active,
    }
    if doctor.full_name:
        data["name"] = [{"text": doctor.full_name}]
    return Practitioner(**data)


def encounter_resource(consultation: Consultation) -> Encounter:
    period: dict[str, str] = {"start": _instant(consultation.submitted_at)}
    end = consultation.closed_at or consultation.concluded_at
    if end is not None:
        period["end"] = _instant(end)
    data: dict[str, Any] = {
        "id": str(consultation.id),
        "status": ENCOUNTER_STATUS[consultation.status],
        "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
        "subject": _ref("Patient", consultation.patient_id),
        "period": period,
        "reasonCode": [{"text": consultation.chief_complaint}],
    }
    if consultation.doctor_id is not None:
        data["participant"] = [{"individual": _ref("Practitioner", consultation.doctor_id)}]
    return Encounter(**data)


def questionnaire_response_resource(consultation: Consultation) -> QuestionnaireResponse:
    """What the patient answered on the consultation form."""
    questions = (
        ("chief_complaint", _("Main complaint"), consultation.chief_complaint),
        ("history", _("History of the complaint"), consultation.history),
        ("past_history", _("Past medical history"), consultation.past_history),
        ("current_medications", _("Current medications"), consultation.current_medications),
    )
    items = [
        {"linkId": link_id, "text": text, "answer": [{"valueString": answer}]}
        for link_id, text, answer in questions
        if answer
    ]
    items.append(
        {
            "linkId": "ai_consent",
            "text": _("Consent to AI analysis"),
            "answer": [{"valueBoolean": consultation.ai_consent}],
        }
    )
    return QuestionnaireResponse(
        id=f"form-{consultation.id}",
        status="completed",
        subject=_ref("Patient", consultation.patient_id),
        encounter=_ref("Encounter", consultation.id),
        authored=_instant(consultation.submitted_at),
        author=_ref("Patient", consultation.patient_id),
        item=items,
    )


def interview_response_resource(
    consultation: Consultation, answers: Sequence[AnswerView]
) -> QuestionnaireResponse:
    """What the patient answered in the intake interview (DDXPlus questionnaire codes)."""
    return QuestionnaireResponse(
        id=f"interview-{consultation.id}",
        status="completed",
        subject=_ref("Patient", consultation.patient_id),
        encounter=_ref("Encounter", consultation.id),
        author=_ref("Patient", consultation.patient_id),
        item=[
            {
                "linkId": answer.code,
                "text": answer.question,
                "answer": [{"valueString": answer.answer}],
            }
            for answer in answers
        ],
    )


def document_reference_resource(
    report: ReportFile, consultation: Consultation
) -> DocumentReference:
    content: list[dict[str, Any]] = [
        {
            "attachment": {
                "contentType": report.content_type,
                "title": report.original_name,
                "size": report.size_bytes,
                "url": f"/consultations/{consultation.id}/reports/{report.id}",
                "creation": _instant(report.created_at),
            }
        }
    ]
    if report.extracted_text:
        content.append(
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "title": _("Text extracted from %(name)s") % {"name": report.original_name},
                    "data": base64.b64encode(report.extracted_text.encode()).decode(),
                }
            }
        )
    return DocumentReference(
        id=str(report.id),
        status="current",
        subject=_ref("Patient", consultation.patient_id),
        date=_instant(report.created_at),
        description=report.original_name,
        content=content,
        context={"encounter": [_ref("Encounter", consultation.id)]},
    )


def device_resource(model_version: str) -> Device:
    return Device(
        id=device_id(model_version),
        status="active",
        deviceName=[{"name": model_version, "type": "model-name"}],
        type={"text": _("Diagnostic suggestion model (decision support)")},
        version=[{"value": model_version}],
    )


DECISION_SUPPORT_NOTE = N_(
    "Decision support only: an AI suggestion, not a diagnosis. A doctor reviews every "
    "consultation and signs the conclusion."
)


def risk_assessment_resource(
    suggestion: AISuggestion, consultation: Consultation
) -> RiskAssessment:
    predictions = []
    for row in suggestion.ranked:
        outcome: dict[str, Any] = {"text": str(row.get("display_name") or row.get("label"))}
        if row.get("icd10"):
            outcome["coding"] = [
                {"system": ICD10, "code": str(row["icd10"]), "display": outcome["text"]}
            ]
        predictions.append(
            {"outcome": outcome, "probabilityDecimal": round(float(row["probability"]), 6)}
        )
    notes = [{"text": _(DECISION_SUPPORT_NOTE)}]
    notes.append({"text": _("Urgency: %(urgency)s") % {"urgency": suggestion.urgency}})
    if UNSUPPORTED_LANGUAGE in (suggestion.abstain_reasons or []):
        notes.append({"text": _(ABSTAIN_REASON_LABELS[UNSUPPORTED_LANGUAGE])})
    elif suggestion.abstained:
        notes.append({"text": _("The model abstained: no suggestion was confident enough.")})
    data: dict[str, Any] = {
        "id": str(suggestion.id),
        "status": "final" if suggestion.is_current else "amended",
        "subject": _ref("Patient", consultation.patient_id),
        "encounter": _ref("Encounter", consultation.id),
        "occurrenceDateTime": _instant(suggestion.created_at),
        "performer": _ref("Device", device_id(suggestion.model_version), suggestion.model_version),
        "method": {"text": _("Text classifier over the consultation (decision support)")},
        "note": notes,
    }
    if predictions:
        data["prediction"] = predictions
    return RiskAssessment(**data)


def condition_resource(review: DoctorReview, consultation: Consultation) -> Condition | None:
    """The doctor's signed diagnosis (none for a rejection without a diagnosis)."""
    if not review.final_diagnosis:
        return None
    code: dict[str, Any] = {"text": review.final_diagnosis}
    if review.icd10_code:
        code["coding"] = [
            {"system": ICD10, "code": review.icd10_code, "display": review.final_diagnosis}
        ]
    data: dict[str, Any] = {
        "id": str(review.id),
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "confirmed"}]},
        "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "encounter-diagnosis"}]}],
        "code": code,
        "subject": _ref("Patient", consultation.patient_id),
        "encounter": _ref("Encounter", consultation.id),
        "recordedDate": _instant(review.signed_at),
        "recorder": _ref("Practitioner", review.doctor_id),
    }
    if review.advice:
        data["note"] = [{"text": _("Advice: %(advice)s") % {"advice": review.advice}}]
    return Condition(**data)


def provenance_resource(
    review: DoctorReview, consultation: Consultation, condition: Condition | None
) -> Provenance:
    target = [_ref("Condition", condition.id)] if condition else []
    target.append(_ref("Encounter", consultation.id))
    reason = review.decision.value
    if review.decision is Decision.reject and review.reject_reason:
        reason = f"{reason}: {review.reject_reason}"
    return Provenance(
        id=f"signoff-{review.id}",
        target=target,
        recorded=_instant(review.signed_at),
        activity={
            "coding": [
                {"system": DATA_OPERATION, "code": "UPDATE" if review.amends_id else "CREATE"}
            ]
        },
        reason=[{"text": reason}],
        agent=[
            {
                "type": {"coding": [{"system": PROVENANCE_AGENT, "code": "author"}]},
                "who": _ref("Practitioner", review.doctor_id),
            }
        ],
    )


def communication_resource(message: Message, consultation: Consultation) -> Communication:
    sender = message.sender
    return Communication(
        id=str(message.id),
        status="completed",
        subject=_ref("Patient", consultation.patient_id),
        encounter=_ref("Encounter", consultation.id),
        sent=_instant(message.created_at),
        sender=_person_ref(sender),
        payload=[{"contentString": message.body}],
    )


def resources(record: PatientRecord) -> Iterator[Resource]:
    """Every resource of the record: Patient first, then per consultation."""
    yield patient_resource(record.patient, record.profile)
    doctors: dict[str, User] = {}
    devices: set[str] = set()
    for item in record.consultations:
        consultation = item.consultation
        if consultation.doctor is not None:
            doctors[str(consultation.doctor.id)] = consultation.doctor
        for review in item.reviews:
            doctors[str(review.doctor.id)] = review.doctor
        for message in item.messages:
            if message.sender.role is not Role.patient:
                doctors[str(message.sender.id)] = message.sender
    for doctor in doctors.values():
        yield practitioner_resource(doctor)
    for item in record.consultations:
        consultation = item.consultation
        yield encounter_resource(consultation)
        yield questionnaire_response_resource(consultation)
        if item.interview_answers:
            yield interview_response_resource(consultation, item.interview_answers)
        for report in item.reports:
            yield document_reference_resource(report, consultation)
        for suggestion in item.suggestions:
            if suggestion.model_version not in devices:
                devices.add(suggestion.model_version)
                yield device_resource(suggestion.model_version)
            yield risk_assessment_resource(suggestion, consultation)
        for review in item.reviews:
            condition = condition_resource(review, consultation)
            if condition is not None:
                yield condition
            yield provenance_resource(review, consultation, condition)
        for message in item.messages:
            yield communication_resource(message, consultation)


def everything_bundle(record: PatientRecord, *, base_url: str, now: datetime) -> Bundle:
    """``Patient/$everything`` as a searchset Bundle; ``base_url`` ends with ``/``."""
    entries = [
        {
            "fullUrl": f"{base_url}{resource.get_resource_type()}/{resource.id}",
            "resource": resource,
            "search": {"mode": "match"},
        }
        for resource in resources(record)
    ]
    return Bundle(
        type="searchset",
        timestamp=_instant(now),
        total=len(entries),
        entry=entries,
    )
