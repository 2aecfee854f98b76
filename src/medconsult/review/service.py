"""The review workflow: claiming, releasing, signed (never edited) conclusions, advice drafts."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from medconsult import access
from medconsult.accounts.models import Role, User
from medconsult.audit import service as audit_service
from medconsult.config import get_settings
from medconsult.consultations.models import Consultation, ConsultationStatus
from medconsult.db import utcnow
from medconsult.diagnosis import service as diagnosis_service
from medconsult.diagnosis.models import AISuggestion
from medconsult.errors import Conflict, Forbidden, NotFound, ValidationFailed
from medconsult.i18n import _
from medconsult.jobs.models import JobStatus
from medconsult.jobs.queries import analysis_job
from medconsult.ml import labels as ml_labels
from medconsult.notifications import service as notifications_service
from medconsult.notifications.models import NotificationKind
from medconsult.review import advice as advice_library
from medconsult.review import cases
from medconsult.review import queries as review_queries
from medconsult.review.models import AdviceTemplateOutcome, Decision, DoctorReview
from medconsult.review.queries import latest_review
from medconsult.review.schemas import ReviewCreate

# WHO ICD-10: a letter (U is reserved for special purposes), two digits (or a digit and A/B
# in a few chapters), then an optional dot and up to four more characters.
ICD10_PATTERN = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$")
DIAGNOSIS_MAX_CHARS = 300


# --- Claiming ---------------------------------------------------------------------------------


def claim(session: Session, *, actor: User, consultation_id: uuid.UUID) -> Consultation:
    """Take an unclaimed consultation for review; a second doctor claiming it gets 409."""
    consultation = cases.load_consultation(
        session, consultation_id=consultation_id, for_update=True
    )
    access.require_doctor(
        session, actor=actor, action="consultation.claimed", consultation=consultation
    )
    if consultation.doctor_id is not None:
        if consultation.doctor_id == actor.id:
            raise Conflict(_("You have already claimed this consultation."))
        raise Conflict(_("Another doctor has already claimed this consultation."))
    if consultation.status not in cases.CLAIMABLE_STATUSES:
        raise Conflict(_("This consultation is no longer waiting for review."))
    consultation.doctor_id = actor.id
    consultation.status = ConsultationStatus.in_review
    session.flush()
    audit_service.record_consultation(session, actor, "consultation.claimed", consultation)
    return consultation


def release(session: Session, *, actor: User, consultation_id: uuid.UUID) -> Consultation:
    """Give a claimed, not yet concluded consultation back to the queue."""
    consultation = cases.load_consultation(
        session, consultation_id=consultation_id, for_update=True
    )
    access.require_doctor(
        session, actor=actor, action="consultation.released", consultation=consultation
    )
    if consultation.doctor_id != actor.id:
        raise Forbidden(_("Only the doctor who claimed this consultation can release it."))
    if consultation.status is not ConsultationStatus.in_review:
        raise Conflict(_("A concluded consultation cannot be released."))
    job = analysis_job(session, consultation_id=consultation.id)
    still_analysing = job is not None and job.status in (JobStatus.queued, JobStatus.running)
    consultation.doctor_id = None
    consultation.status = (
        ConsultationStatus.analysing if still_analysing else ConsultationStatus.awaiting_review
    )
    session.flush()
    audit_service.record_consultation(session, actor, "consultation.released", consultation)
    return consultation


# --- Reviews ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Diagnosis:
    label: str | None
    name: str
    icd10: str


def _chosen_diagnosis(
    data: ReviewCreate, suggestion: AISuggestion | None, errors: dict[str, str]
) -> _Diagnosis | None:
    """The diagnosis the form names, or None (with a message in ``errors`` where one is due)."""
    if data.decision is Decision.accept:
        if suggestion is None or not suggestion.ranked:
            errors["decision"] = _("There is no AI suggestion to accept; choose a diagnosis.")
            return None
        for item in suggestion.ranked:
            if str(item.get("label")) == data.accepted_label:
                return _Diagnosis(
                    label=data.accepted_label,
                    name=str(item.get("display_name") or data.accepted_label),
                    icd10=str(item.get("icd10") or ""),
                )
        errors["accepted_label"] = _("Choose which of the AI suggestions you accept.")
        return None
    if data.label_key:
        try:
            info = ml_labels.get_label(data.label_key)
        except KeyError:
            errors["label_key"] = _("Choose a diagnosis from the list.")
            return None
        return _Diagnosis(label=info.key, name=info.display_name, icd10=info.icd10)
    if data.diagnosis or data.icd10_code:
        code = data.icd10_code.upper()
        if not data.diagnosis:
            errors["diagnosis"] = _("Enter the diagnosis.")
        elif len(data.diagnosis) > DIAGNOSIS_MAX_CHARS:
            errors["diagnosis"] = _("The diagnosis must be at most 300 characters.")
        if not ICD10_PATTERN.match(code):
            errors["icd10_code"] = _("Enter an ICD-10 code such as J11.1.")
        if errors:
            return None
        return _Diagnosis(label=None, name=data.diagnosis, icd10=code)
    if data.decision is Decision.modify:
        errors["label_key"] = _(
            "Choose a diagnosis from the list, or enter one with its ICD-10 code."
        )
    return None


@dataclass(frozen=True)
class _TemplateUse:
    label: str
    version: int
    outcome: AdviceTemplateOutcome


def template_outcome(
    entry: advice_library.AdviceEntry, *, advice: str, discarded: bool
) -> AdviceTemplateOutcome:
    """Whether the signed advice is the library draft unchanged, an edit of it, or neither."""
    if discarded or not advice.strip():
        return AdviceTemplateOutcome.discarded
    if advice_library.normalise(advice) == advice_library.normalise(
        advice_library.compose_draft(entry)
    ):
        return AdviceTemplateOutcome.used
    return AdviceTemplateOutcome.edited


def _template_use(
    data: ReviewCreate, diagnosis: _Diagnosis | None, errors: dict[str, str]
) -> _TemplateUse | None:
    """The advice draft the review started from, checked against the signed diagnosis."""
    if not data.advice_template_label:
        return None
    entry = advice_library.entry_for(data.advice_template_label)
    if entry is None or diagnosis is None or diagnosis.label != entry.label:
        errors["advice"] = _(
            "The advice draft is for another diagnosis: choose the diagnosis again to get its "
            "draft, or discard the draft."
        )
        return None
    if data.advice_template_version != entry.version:
        errors["advice"] = _(
            "The advice library has changed since the draft was offered: choose the diagnosis "
            "again to get the current draft."
        )
        return None
    outcome = template_outcome(entry, advice=data.advice, discarded=data.advice_template_discarded)
    return _TemplateUse(label=entry.label, version=entry.version, outcome=outcome)


def _validated(
    data: ReviewCreate, suggestion: AISuggestion | None
) -> tuple[_Diagnosis | None, _TemplateUse | None]:
    """Check a review before anything changes; raise ValidationFailed listing every problem."""
    limit = get_settings().max_text_chars
    errors: dict[str, str] = {}
    diagnosis = _chosen_diagnosis(data, suggestion, errors)
    if data.decision is Decision.reject and not data.reject_reason:
        errors["reject_reason"] = _("Say why you reject the AI suggestion.")
    for name, value in (
        ("reject_reason", data.reject_reason),
        ("advice", data.advice),
        ("private_note", data.private_note),
    ):
        if len(value) > limit:
            errors[name] = _("This text is too long (at most {limit} characters).").format(
                limit=limit
            )
    template = None if errors else _template_use(data, diagnosis, errors)
    if errors:
        raise ValidationFailed(errors)
    return diagnosis, template


def submit_review(
    session: Session, *, actor: User, consultation_id: uuid.UUID, data: ReviewCreate
) -> DoctorReview:
    """Sign off a claimed consultation, or amend its conclusion with a new signed row."""
    consultation = cases.load_consultation(
        session, consultation_id=consultation_id, for_update=True
    )
    action = "review.amended" if data.amends_id else "review.signed"
    access.require_doctor(session, actor=actor, action=action, consultation=consultation)
    if consultation.doctor_id is None:
        raise Conflict(_("Claim this consultation before reviewing it."))
    if consultation.doctor_id != actor.id:
        raise Forbidden(_("Another doctor is reviewing this consultation."))
    previous = latest_review(session, consultation_id=consultation.id)
    if data.amends_id is None:
        if consultation.status is not ConsultationStatus.in_review or previous is not None:
            raise Conflict(_("This consultation is already concluded; amend its conclusion."))
    else:
        if consultation.status is not ConsultationStatus.concluded or previous is None:
            raise Conflict(_("Only a concluded consultation can be amended."))
        if previous.id != data.amends_id:
            raise Conflict(
                _("The conclusion was amended meanwhile; reload the page and try again.")
            )
    suggestion = diagnosis_service.current_suggestion(session, consultation_id=consultation.id)
    diagnosis, template = _validated(data, suggestion)
    now = utcnow()
    review = DoctorReview(
        consultation_id=consultation.id,
        doctor_id=actor.id,
        suggestion_id=suggestion.id if suggestion else None,
        decision=data.decision,
        final_label=diagnosis.label if diagnosis else None,
        final_diagnosis=diagnosis.name if diagnosis else "",
        icd10_code=diagnosis.icd10 if diagnosis else "",
        reject_reason=data.reject_reason if data.decision is Decision.reject else "",
        advice=data.advice,
        private_note=data.private_note,
        advice_template_label=template.label if template else None,
        advice_template_version=template.version if template else None,
        advice_template_outcome=template.outcome if template else None,
        signed_at=now,
        amends_id=previous.id if previous is not None else None,
    )
    session.add(review)
    if previous is None:
        consultation.status = ConsultationStatus.concluded
        consultation.concluded_at = now
    session.flush()
    audit_service.record_consultation(
        session,
        actor,
        action,
        consultation,
        part=("doctor_review", review.id),
        details={
            "consultation_id": str(consultation.id),
            "decision": review.decision.value,
            "suggestion_id": str(review.suggestion_id) if review.suggestion_id else None,
            "amends_id": str(review.amends_id) if review.amends_id else None,
            "advice_template": (
                {"label": template.label, "version": template.version, "outcome": template.outcome}
                if template
                else None
            ),
        },
    )
    patient = session.get(User, consultation.patient_id)
    if patient is not None:
        notifications_service.notify(
            session,
            user=patient,
            kind=NotificationKind.consultation_concluded,
            link_path=f"/consultations/{consultation.id}",
        )
    return review


def list_reviews(
    session: Session, *, actor: User, consultation_id: uuid.UUID
) -> list[DoctorReview]:
    """The review history as doctors read it (audited)."""
    consultation = cases.load_consultation(session, consultation_id=consultation_id)
    access.require_doctor(session, actor=actor, action="review.read", consultation=consultation)
    reviews = review_queries.review_history(session, consultation_id=consultation.id)
    audit_service.record_consultation(session, actor, "review.read", consultation)
    return reviews


def search_labels(*, actor: User, query: str, limit: int = 20) -> list[ml_labels.LabelInfo]:
    """Diagnosis labels matching a doctor's search (names, aliases, ICD-10 codes)."""
    if actor.role is not Role.doctor:
        raise Forbidden(_("Only doctors can search diagnoses."))
    return ml_labels.search_labels(query[:100], limit=limit, translate=_)


# --- Advice drafts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AdviceDraft:
    entry: advice_library.AdviceEntry
    display_name: str
    text: str


def decided_label(
    *, decision: str, accepted_label: str, label_key: str, suggestion: AISuggestion | None
) -> str | None:
    """The diagnosis label a (not yet signed) review form names, or None before a decision."""
    if decision == Decision.accept:
        ranked = suggestion.ranked if suggestion is not None else []
        labels = {str(item.get("label")) for item in ranked}
        return accepted_label if accepted_label in labels else None
    if decision in (Decision.modify, Decision.reject) and label_key:
        return label_key if label_key in {label.key for label in ml_labels.all_labels()} else None
    return None


def advice_draft(
    session: Session,
    *,
    actor: User,
    label_key: str,
    consultation: Consultation | None = None,
) -> AdviceDraft:
    """The reviewed advice draft for a diagnosis label (doctors only, audited)."""
    access.require_doctor(
        session, actor=actor, action="advice.draft.read", consultation=consultation
    )
    entry = advice_library.entry_for(label_key)
    if entry is None:
        raise NotFound(_("There is no reviewed advice for this diagnosis."))
    audit_service.record(
        session,
        actor=actor,
        action="advice.draft.read",
        record_type="consultation" if consultation else "advice_template",
        record_id=consultation.id if consultation else entry.label,
        patient_id=consultation.patient_id if consultation else None,
        details={"label": entry.label, "version": entry.version},
    )
    return AdviceDraft(
        entry=entry,
        display_name=ml_labels.get_label(entry.label).display_name,
        text=advice_library.compose_draft(entry),
    )


def advice_draft_for_case(
    session: Session,
    *,
    actor: User,
    consultation_id: uuid.UUID,
    decision: str,
    accepted_label: str,
    label_key: str,
) -> AdviceDraft | None:
    """The advice draft for the diagnosis a doctor has just chosen on a case's review form:
    None before a decision, or for a diagnosis without reviewed advice (audited when offered)."""
    # The role first: a patient or admin learns nothing about whether the case exists.
    access.require_doctor(session, actor=actor, action="advice.draft.read")
    consultation = cases.load_consultation(session, consultation_id=consultation_id)
    if consultation.doctor_id != actor.id:
        raise Forbidden(_("Only the doctor who claimed this consultation can review it."))
    label = decided_label(
        decision=decision,
        accepted_label=accepted_label,
        label_key=label_key,
        suggestion=diagnosis_service.current_suggestion(session, consultation_id=consultation.id),
    )
    if advice_library.entry_for(label) is None or label is None:
        return None
    return advice_draft(session, actor=actor, label_key=label, consultation=consultation)
