"""What doctors read: the review queue and one case, with everything needed to decide."""

from __future__ import annotations

import hashlib
import math
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select, union_all
from sqlalchemy.orm import Session, defer, joinedload, load_only

from medconsult import access
from medconsult.accounts.models import User
from medconsult.audit import service as audit_service
from medconsult.consultations.models import Consultation, ConsultationStatus, Urgency
from medconsult.db import utcnow
from medconsult.diagnosis import service as diagnosis_service
from medconsult.diagnosis.models import AISuggestion
from medconsult.errors import NotFound
from medconsult.i18n import _
from medconsult.jobs.models import AnalysisJob
from medconsult.patients import service as patients_service
from medconsult.patients.models import PatientProfile
from medconsult.review import queries as review_queries
from medconsult.review.models import DoctorReview
from medconsult.review.schemas import QueueStatusFilter

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
# Statuses no doctor has work left on: their consultations only ever accumulate, so the queue
# counts them no further than it needs (the tabs then read "1000+"), never the whole history.
FINISHED_STATUSES = (ConsultationStatus.concluded, ConsultationStatus.closed)
QUEUE_COUNT_CAP = 1000
QUEUE_PAGE_SIZE = 50
EARLIER_CONSULTATIONS_LIMIT = 20

# --- Loading ----------------------------------------------------------------------------------


def load_consultation(
    session: Session, *, consultation_id: uuid.UUID, for_update: bool = False
) -> Consultation:
    """The consultation, or 404; ``for_update`` locks its row for a claim or a sign-off."""
    query = select(Consultation).where(Consultation.id == consultation_id)
    if for_update:
        # Serialises claims and sign-offs: a second doctor waits, then sees the first one's row.
        query = query.with_for_update(of=Consultation)
    consultation = session.scalar(query.execution_options(populate_existing=for_update))
    if consultation is None:
        raise NotFound(_("Consultation not found."))
    return consultation


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
    # Statuses whose count is a lower bound (more exist than ``counts`` says); when the filter
    # covers one of them, ``total`` and ``pages`` are lower bounds too.
    capped: frozenset[str] = frozenset()
    total_capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        # A capped total counts at least every row up to the end of this page, and more.
        return self.page < self.pages or self.total_capped


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
    access.require_doctor(session, actor=actor, action="consultation.queue.read")
    page = max(1, page)
    # Counted far enough to know whether a page follows this one.
    cap = max(QUEUE_COUNT_CAP, page * per_page)
    counts, capped = _status_counts(session, actor=actor, flt=flt, cap=cap)
    shown_statuses = _statuses_shown(flt)
    total = sum(counts[status.value] for status in shown_statuses)
    total_capped = any(status.value in capped for status in shown_statuses)
    # One statement for the whole page. Its consultations are picked first from the
    # consultations alone, in the order of an index (however deep the page, only that index
    # is walked); only those are joined to patient, profile, doctor, current suggestion and
    # job, and the large clinical texts the table never shows are left unloaded.
    order = (Consultation.urgency_rank, Consultation.submitted_at, Consultation.id)
    page_ids = (
        _queue_filtered(select(Consultation.id), actor=actor, flt=flt)
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery()
    )
    query = (
        select(Consultation, PatientProfile, AISuggestion, AnalysisJob)
        .join(page_ids, page_ids.c.id == Consultation.id)
        .outerjoin(PatientProfile, PatientProfile.user_id == Consultation.patient_id)
        .outerjoin(AISuggestion, diagnosis_service.is_current_suggestion_of(Consultation.id))
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
        .order_by(*order)
    )
    rows = [
        QueueRow(consultation=c, profile=p, suggestion=s, job=j)
        for c, p, s, j in session.execute(query)
    ]
    shown = _queue_fingerprint(rows, page=page, flt=flt, total=total)
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
        rows=rows,
        total=total,
        page=page,
        per_page=per_page,
        counts=counts,
        now=utcnow(),
        capped=capped,
        total_capped=total_capped,
    )


def _statuses_shown(flt: QueueFilter) -> tuple[ConsultationStatus, ...]:
    if flt.status == "open":
        return OPEN_STATUSES
    if flt.status == "all":
        return tuple(ConsultationStatus)
    return (ConsultationStatus(flt.status),)


def _status_counts(
    session: Session, *, actor: User, flt: QueueFilter, cap: int
) -> tuple[dict[str, int], frozenset[str]]:
    """Consultations per status under the urgency and "mine" filters (never the status filter,
    so the tabs always show where work is), in one statement: open statuses exactly (the open
    queue's rows only), finished ones up to ``cap`` (returned as capped when more exist)."""
    status_filter_off = QueueFilter(status="all", urgency=flt.urgency, mine=flt.mine)
    parts: list[Select[ConsultationStatus, int]] = [
        _queue_filtered(
            select(Consultation.status, func.count()).where(Consultation.status.in_(OPEN_STATUSES)),
            actor=actor,
            flt=status_filter_off,
        ).group_by(Consultation.status)
    ]
    for status in FINISHED_STATUSES:
        # One row past the cap tells "exactly cap" from "more than cap".
        first_rows = (
            _queue_filtered(
                select(Consultation.status).where(Consultation.status == status),
                actor=actor,
                flt=status_filter_off,
            )
            .limit(cap + 1)
            .subquery()
        )
        parts.append(select(first_rows.c.status, func.count()).group_by(first_rows.c.status))
    counts = {status.value: 0 for status in ConsultationStatus}
    capped: set[str] = set()
    for status, count in session.execute(union_all(*parts)):
        value = ConsultationStatus(status).value
        if status in FINISHED_STATUSES and count > cap:
            count = cap
            capped.add(value)
        counts[value] = count
    return counts, frozenset(capped)


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


def get_case(session: Session, *, actor: User, consultation_id: uuid.UUID) -> CaseView:
    """Everything a doctor reads to decide on one consultation (audited)."""
    # The consultation, its patient, the patient's profile, the current suggestion and the
    # analysis job in one statement (each at most one row: the joins never multiply it).
    loaded = session.execute(
        select(Consultation, PatientProfile, AISuggestion, AnalysisJob)
        .options(joinedload(Consultation.patient))
        .outerjoin(PatientProfile, PatientProfile.user_id == Consultation.patient_id)
        .outerjoin(AISuggestion, diagnosis_service.is_current_suggestion_of(Consultation.id))
        .outerjoin(AnalysisJob, AnalysisJob.consultation_id == Consultation.id)
        .where(Consultation.id == consultation_id)
    ).first()
    if loaded is None:
        raise NotFound(_("Consultation not found."))
    consultation, found_profile, suggestion, job = loaded
    access.require_doctor(
        session, actor=actor, action="consultation.read", consultation=consultation
    )
    profile = found_profile or patients_service.ensure_profile(session, user=consultation.patient)
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
    reviews, conclusions = review_queries.history_and_conclusions(
        session,
        consultation_id=consultation.id,
        other_ids=[c.id for c in earlier_consultations],
    )
    claimed_by_actor = consultation.doctor_id == actor.id
    audit_service.record_consultation(session, actor, "consultation.read", consultation)
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
