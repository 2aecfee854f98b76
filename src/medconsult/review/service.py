"""Doctor review: the queue, case reading, claiming, and signed (never edited) conclusions."""

from __future__ import annotations

import hashlib
import math
import re
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session, aliased, defer, joinedload, load_only

from medconsult.accounts.models import Role, User
from medconsult.audit import service as audit_service
from medconsult.audit.models import Outcome
from medconsult.config import get_settings
from medconsult.consultations.models import (
    AnalysisJob,
    Consultation,
    ConsultationStatus,
    JobStatus,
    Urgency,
)
from medconsult.db import utcnow
from medconsult.diagnosis import service as diagnosis_service
from medconsult.diagnosis.models import AISuggestion
from medconsult.errors import Conflict, Forbidden, NotFound, ValidationFailed
from medconsult.i18n import _
from medconsult.ml import labels as ml_labels
from medconsult.notifications import service as notifications_service
from medconsult.notifications.models import NotificationKind
from medconsult.patients import service as patients_service
from medconsult.patients.models import PatientProfile
from medconsult.review import advice as advice_library
from medconsult.review.models import AdviceTemplateOutcome, Decision, DoctorReview
from medconsult.review.schemas import QueueStatusFilter, ReviewCreate

# The statuses a doctor still has work to do on.
OPEN_STATUSES = (
    ConsultationStatus.submitted,
    ConsultationStatus.analysing,
    ConsultationStatus.awaiting_review,
    ConsultationStatus.in_review,
)
CLAIMABLE_STATUSES = (
    ConsultationStatus.submitted,
    ConsultationStatus.analysing,
    ConsultationStatus.awaiting_review,
)
QUEUE_PAGE_SIZE = 50
EARLIER_CONSULTATIONS_LIMIT = 20
# WHO ICD-10: a letter (U is reserved for special purposes), two digits (or a digit and A/B
# in a few chapters), then an optional dot and up to four more characters.
ICD10_PATTERN = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$")
DIAGNOSIS_MAX_CHARS = 300


# --- Access -----------------------------------------------------------------------------------


def _require_doctor(
    session: Session, *, actor: User, action: str, consultation: Consultation | None = None
) -> None:
    """Only doctors work on cases; refusals are audited (admins 403, everyone else 404)."""
    if actor.role is Role.doctor:
        return
    audit_service.record(
        session,
        actor=actor,
        action=action,
        outcome=Outcome.denied,
        record_type="consultation" if consultation else None,
        record_id=consultation.id if consultation else None,
        patient_id=consultation.patient_id if consultation else None,
    )
    if actor.role is Role.admin:
        raise Forbidden(_("Administrators do not have access to clinical records."))
    raise Forbidden(_("Only doctors can review consultations."))


def _get_consultation(
    session: Session, *, consultation_id: uuid.UUID, for_update: bool = False
) -> Consultation:
    query = select(Consultation).where(Consultation.id == consultation_id)
    if for_update:
        # Serialises claims and sign-offs: a second doctor waits, then sees the first one's row.
        query = query.with_for_update(of=Consultation)
    consultation = session.scalar(query.execution_options(populate_existing=for_update))
    if consultation is None:
        raise NotFound(_("Consultation not found."))
    return consultation


# --- Suggestions and jobs (read-only here; the analysis pipeline writes them) -----------------


def current_suggestion(session: Session, *, consultation_id: uuid.UUID) -> AISuggestion | None:
    """The consultation's current AI suggestion, if the analysis has produced one."""
    return session.scalar(
        select(AISuggestion).where(
            AISuggestion.consultation_id == consultation_id, AISuggestion.is_current
        )
    )


def analysis_job(session: Session, *, consultation_id: uuid.UUID) -> AnalysisJob | None:
    return session.scalar(select(AnalysisJob).where(AnalysisJob.consultation_id == consultation_id))


# --- Queue ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilter:
    status: QueueStatusFilter = "open"
    urgency: Urgency | None = None
    mine: bool = False


@dataclass(frozen=True)
class QueueRow:
    consultation: Consultation
    profile: PatientProfile | None
    suggestion: AISuggestion | None
    job: AnalysisJob | None

    @property
    def patient_name(self) -> str:
        if self.profile is not None and self.profile.full_name:
            return self.profile.full_name
        return self.consultation.patient.full_name

    @property
    def patient_age(self) -> int | None:
        return patients_service.age_on(self.profile.date_of_birth if self.profile else None)

    @property
    def top_suggestion(self) -> dict[str, Any] | None:
        if self.suggestion is None or not self.suggestion.ranked:
            return None
        return self.suggestion.ranked[0]


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    per_page: int
    counts: dict[str, int]
    now: datetime

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def _queue_filtered(query: SelectT, *, actor: User, flt: QueueFilter) -> SelectT:
    if flt.status == "open":
        query = query.where(Consultation.status.in_(OPEN_STATUSES))
    elif flt.status != "all":
        query = query.where(Consultation.status == ConsultationStatus(flt.status))
    if flt.urgency is not None:
        query = query.where(Consultation.urgency == flt.urgency)
    if flt.mine:
        query = query.where(Consultation.doctor_id == actor.id)
    return query


def queue_page(
    session: Session,
    *,
    actor: User,
    flt: QueueFilter,
    page: int = 1,
    per_page: int = QUEUE_PAGE_SIZE,
    refresh: bool = False,
) -> QueuePage:
    """One page of the doctors' queue: emergencies first, then the longest waiting (audited).

    ``refresh``: an automatic re-read of a page the doctor has open (the queue polls every few
    seconds). It is audited only when what it shows differs from the doctor's last audited
    queue read, so the trail records every disclosure without one event per poll.
    """
    _require_doctor(session, actor=actor, action="consultation.queue.read")
    page = max(1, page)
    total = session.scalar(
        _queue_filtered(select(func.count()).select_from(Consultation), actor=actor, flt=flt)
    )
    # Counts per status ignore the status filter, so the tabs always show where work is.
    status_filter_off = QueueFilter(status="all", urgency=flt.urgency, mine=flt.mine)
    counts = {status.value: 0 for status in ConsultationStatus}
    for status, count in session.execute(
        _queue_filtered(
            select(Consultation.status, func.count()), actor=actor, flt=status_filter_off
        ).group_by(Consultation.status)
    ):
        counts[status.value] = count
    # One statement for the whole page: patient, profile, doctor, current suggestion and job are
    # joined in, and the large clinical texts the table never shows are left unloaded.
    query = (
        select(Consultation, PatientProfile, AISuggestion, AnalysisJob)
        .outerjoin(PatientProfile, PatientProfile.user_id == Consultation.patient_id)
        .outerjoin(
            AISuggestion,
            (AISuggestion.consultation_id == Consultation.id) & AISuggestion.is_current,
        )
        .outerjoin(AnalysisJob, AnalysisJob.consultation_id == Consultation.id)
        .options(
            joinedload(Consultation.patient),
            joinedload(Consultation.doctor),
            defer(Consultation.history),
            defer(Consultation.past_history),
            defer(Consultation.current_medications),
            load_only(
                AISuggestion.id,
                AISuggestion.consultation_id,
                AISuggestion.ranked,
                AISuggestion.top1_label,
                AISuggestion.top1_probability,
                AISuggestion.urgency,
                AISuggestion.abstained,
                AISuggestion.model_version,
            ),
        )
        .order_by(Consultation.urgency_rank, Consultation.submitted_at, Consultation.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = [
        QueueRow(consultation=c, profile=p, suggestion=s, job=j)
        for c, p, s, j in session.execute(_queue_filtered(query, actor=actor, flt=flt))
    ]
    shown = _queue_fingerprint(rows, page=page, flt=flt, total=total or 0)
    last = (
        audit_service.last_details(session, actor_id=actor.id, action="consultation.queue.read")
        if refresh
        else None
    )
    if last is None or last.get("shown") != shown:
        audit_service.record(
            session,
            actor=actor,
            action="consultation.queue.read",
            record_type="consultation_queue",
            details={
                "page": page,
                "rows": len(rows),
                "status": flt.status,
                "refresh": refresh,
                "shown": shown,
            },
        )
    return QueuePage(
        rows=rows, total=total or 0, page=page, per_page=per_page, counts=counts, now=utcnow()
    )


def _queue_fingerprint(rows: Sequence[QueueRow], *, page: int, flt: QueueFilter, total: int) -> str:
    """A digest of what a queue page discloses: which cases, in which state, with which
    suggestion (it names no patient and no clinical text)."""
    parts = [f"{page}|{flt.status}|{flt.urgency}|{flt.mine}|{total}"]
    for row in rows:
        consultation = row.consultation
        parts.append(
            f"{consultation.id}|{consultation.status}|{consultation.doctor_id}|"
            f"{row.suggestion.id if row.suggestion else ''}|{row.job.status if row.job else ''}|"
            f"{consultation.urgency}|{len(consultation.red_flags or [])}"
        )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


# --- Case page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextSegment:
    text: str
    is_evidence: bool
    score: float | None = None


def evidence_segments(text: str, evidence: Sequence[dict[str, Any]]) -> list[TextSegment]:
    """Split ``text`` into plain and evidence segments by the suggestion's character offsets.

    Offsets come from stored JSON: out-of-range or malformed spans are dropped and overlapping
    ones merged, so the segments always add up to exactly ``text``.
    """
    spans: list[tuple[int, int, float | None]] = []
    for item in evidence:
        try:
            start, end = int(item["start"]), int(item["end"])
        except (KeyError, TypeError, ValueError):
            continue
        start, end = max(0, start), min(len(text), end)
        if start >= end:
            continue
        raw_score = item.get("score")
        score = float(raw_score) if isinstance(raw_score, int | float) else None
        spans.append((start, end, score))
    spans.sort()
    merged: list[list[Any]] = []
    for start, end, score in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if score is not None:
                merged[-1][2] = max(merged[-1][2] or score, score)
        else:
            merged.append([start, end, score])
    segments: list[TextSegment] = []
    position = 0
    for start, end, score in merged:
        if start > position:
            segments.append(TextSegment(text[position:start], False))
        segments.append(TextSegment(text[start:end], True, score))
        position = end
    if position < len(text):
        segments.append(TextSegment(text[position:], False))
    return segments


@dataclass(frozen=True)
class EarlierConsultation:
    consultation: Consultation
    conclusion: DoctorReview | None


@dataclass
class CaseView:
    consultation: Consultation
    profile: PatientProfile
    patient_age: int | None
    suggestion: AISuggestion | None
    job: AnalysisJob | None
    segments: list[TextSegment]
    # Characters of the consultation (report text, mostly) beyond the analysis limit.
    unanalysed_chars: int
    earlier: list[EarlierConsultation]
    reviews: list[DoctorReview]
    claimed_by_actor: bool
    may_claim: bool
    may_sign: bool
    may_amend: bool

    @property
    def current_review(self) -> DoctorReview | None:
        return self.reviews[0] if self.reviews else None


def _latest_reviews_for(
    session: Session, *, consultation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DoctorReview]:
    if not consultation_ids:
        return {}
    newer = aliased(DoctorReview)
    reviews = session.scalars(
        select(DoctorReview)
        .where(
            DoctorReview.consultation_id.in_(consultation_ids),
            ~exists().where(newer.amends_id == DoctorReview.id),
        )
        # Amendments form one chain per consultation, so each has a single head; ordering
        # oldest first lets the newest win should two heads ever exist.
        .order_by(DoctorReview.signed_at)
    )
    return {review.consultation_id: review for review in reviews}


def get_case(session: Session, *, actor: User, consultation_id: uuid.UUID) -> CaseView:
    """Everything a doctor reads to decide on one consultation (audited)."""
    consultation = _get_consultation(session, consultation_id=consultation_id)
    _require_doctor(session, actor=actor, action="consultation.read", consultation=consultation)
    profile = patients_service.ensure_profile(session, user=consultation.patient)
    suggestion = current_suggestion(session, consultation_id=consultation.id)
    job = analysis_job(session, consultation_id=consultation.id)
    segments = (
        evidence_segments(suggestion.analysed_text, suggestion.evidence)
        if suggestion is not None and suggestion.analysed_text
        else []
    )
    unanalysed_chars = (
        max(
            0,
            len(diagnosis_service.compose_analysed_text(consultation, max_chars=sys.maxsize))
            - len(suggestion.analysed_text),
        )
        if suggestion is not None
        else 0
    )
    earlier_consultations = list(
        session.scalars(
            select(Consultation)
            .where(
                Consultation.patient_id == consultation.patient_id,
                Consultation.id != consultation.id,
            )
            .order_by(Consultation.submitted_at.desc())
            .limit(EARLIER_CONSULTATIONS_LIMIT)
        )
    )
    conclusions = _latest_reviews_for(
        session, consultation_ids=[c.id for c in earlier_consultations]
    )
    reviews = review_history(session, consultation_id=consultation.id)
    claimed_by_actor = consultation.doctor_id == actor.id
    audit_service.record(
        session,
        actor=actor,
        action="consultation.read",
        record_type="consultation",
        record_id=consultation.id,
        patient_id=consultation.patient_id,
    )
    return CaseView(
        consultation=consultation,
        profile=profile,
        patient_age=patients_service.age_on(profile.date_of_birth),
        suggestion=suggestion,
        job=job,
        segments=segments,
        unanalysed_chars=unanalysed_chars,
        earlier=[EarlierConsultation(c, conclusions.get(c.id)) for c in earlier_consultations],
        reviews=reviews,
        claimed_by_actor=claimed_by_actor,
        may_claim=consultation.doctor_id is None and consultation.status in CLAIMABLE_STATUSES,
        may_sign=claimed_by_actor and consultation.status is ConsultationStatus.in_review,
        may_amend=claimed_by_actor
        and consultation.status is ConsultationStatus.concluded
        and bool(reviews),
    )


# --- Claiming ---------------------------------------------------------------------------------


def claim(session: Session, *, actor: User, consultation_id: uuid.UUID) -> Consultation:
    """Take an unclaimed consultation for review; a second doctor claiming it gets 409."""
    consultation = _get_consultation(session, consultation_id=consultation_id, for_update=True)
    _require_doctor(session, actor=actor, action="consultation.claimed", consultation=consultation)
    if consultation.doctor_id is not None:
        if consultation.doctor_id == actor.id:
            raise Conflict(_("You have already claimed this consultation."))
        raise Conflict(_("Another doctor has already claimed this consultation."))
    if consultation.status not in CLAIMABLE_STATUSES:
        raise Conflict(_("This consultation is no longer waiting for review."))
    consultation.doctor_id = actor.id
    consultation.status = ConsultationStatus.in_review
    session.flush()
    audit_service.record(
        session,
        actor=actor,
        action="consultation.claimed",
        record_type="consultation",
        record_id=consultation.id,
        patient_id=consultation.patient_id,
    )
    return consultation


def release(session: Session, *, actor: User, consultation_id: uuid.UUID) -> Consultation:
    """Give a claimed, not yet concluded consultation back to the queue."""
    consultation = _get_consultation(session, consultation_id=consultation_id, for_update=True)
    _require_doctor(session, actor=actor, action="consultation.released", consultation=consultation)
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
    audit_service.record(
        session,
        actor=actor,
        action="consultation.released",
        record_type="consultation",
        record_id=consultation.id,
        patient_id=consultation.patient_id,
    )
    return consultation


# --- Reviews ----------------------------------------------------------------------------------


def review_history(session: Session, *, consultation_id: uuid.UUID) -> list[DoctorReview]:
    """Every signed review of a consultation, the current conclusion first."""
    return list(
        session.scalars(
            select(DoctorReview)
            .options(joinedload(DoctorReview.doctor))
            .where(DoctorReview.consultation_id == consultation_id)
            .order_by(DoctorReview.signed_at.desc(), DoctorReview.created_at.desc())
        )
    )


def latest_review(session: Session, *, consultation_id: uuid.UUID) -> DoctorReview | None:
    """The current conclusion: the signed review that no amendment has replaced."""
    newer = aliased(DoctorReview)
    return session.scalar(
        select(DoctorReview)
        .where(
            DoctorReview.consultation_id == consultation_id,
            ~exists().where(newer.amends_id == DoctorReview.id),
        )
        .order_by(DoctorReview.signed_at.desc())
        .limit(1)
    )


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
    consultation = _get_consultation(session, consultation_id=consultation_id, for_update=True)
    action = "review.amended" if data.amends_id else "review.signed"
    _require_doctor(session, actor=actor, action=action, consultation=consultation)
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
    suggestion = current_suggestion(session, consultation_id=consultation.id)
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
    audit_service.record(
        session,
        actor=actor,
        action=action,
        record_type="doctor_review",
        record_id=review.id,
        patient_id=consultation.patient_id,
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
    consultation = _get_consultation(session, consultation_id=consultation_id)
    _require_doctor(session, actor=actor, action="review.read", consultation=consultation)
    reviews = review_history(session, consultation_id=consultation.id)
    audit_service.record(
        session,
        actor=actor,
        action="review.read",
        record_type="consultation",
        record_id=consultation.id,
        patient_id=consultation.patient_id,
    )
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
    _require_doctor(session, actor=actor, action="advice.draft.read", consultation=consultation)
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
    _require_doctor(session, actor=actor, action="advice.draft.read")
    consultation = _get_consultation(session, consultation_id=consultation_id)
    if consultation.doctor_id != actor.id:
        raise Forbidden(_("Only the doctor who claimed this consultation can review it."))
    label = decided_label(
        decision=decision,
        accepted_label=accepted_label,
        label_key=label_key,
        suggestion=current_suggestion(session, consultation_id=consultation.id),
    )
    if advice_library.entry_for(label) is None or label is None:
        return None
    return advice_draft(session, actor=actor, label_key=label, consultation=consultation)
