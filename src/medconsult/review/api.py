"""Doctor review JSON API: the queue, claims and signed reviews."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from medconsult.auth import CurrentUser, DoctorUser
from medconsult.consultations.models import Consultation, Urgency
from medconsult.db import SessionDep
from medconsult.i18n import _
from medconsult.review import cases as review_cases
from medconsult.review import service as review_service
from medconsult.review.models import DoctorReview
from medconsult.review.schemas import (
    AdviceDraftRead,
    AdviceSource,
    ClaimRead,
    LabelRead,
    QueueConsultationFields,
    QueueItemRead,
    QueueRead,
    QueueStatusFilter,
    ReviewCreate,
    ReviewRead,
    SuggestionSummary,
)

router = APIRouter(tags=["review"])


def _queue_item(row: review_cases.QueueRow, page: review_cases.QueuePage) -> QueueItemRead:
    consultation = row.consultation
    top = row.top_suggestion
    return QueueItemRead(
        **dict(QueueConsultationFields.model_validate(consultation)),
        patient_name=row.patient_name,
        patient_age=row.patient_age,
        waiting_seconds=max(0, int((page.now - consultation.submitted_at).total_seconds())),
        doctor_name=consultation.doctor.full_name if consultation.doctor else None,
        job_status=row.job.status if row.job else None,
        # A ranked entry carries more than the summary's fields: the rest are ignored.
        top_suggestion=SuggestionSummary.model_validate(top) if top else None,
    )


@router.get("/doctor/queue", response_model=QueueRead)
def queue(
    session: SessionDep,
    user: DoctorUser,
    status: QueueStatusFilter = "open",
    urgency: Urgency | None = None,
    mine: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = review_cases.QUEUE_PAGE_SIZE,
) -> QueueRead:
    flt = review_cases.QueueFilter(status=status, urgency=urgency, mine=mine)
    result = review_cases.queue_page(session, actor=user, flt=flt, page=page, per_page=per_page)
    return QueueRead(
        items=[_queue_item(row, result) for row in result.rows],
        total=result.total,
        page=result.page,
        pages=result.pages,
        per_page=result.per_page,
        counts=result.counts,
        counts_capped=sorted(result.capped),
        total_capped=result.total_capped,
        has_next=result.has_next,
    )


@router.post("/consultations/{consultation_id}/claim", response_model=ClaimRead)
def claim(consultation_id: uuid.UUID, session: SessionDep, user: DoctorUser) -> Consultation:
    return review_service.claim(session, actor=user, consultation_id=consultation_id)


@router.delete("/consultations/{consultation_id}/claim", response_model=ClaimRead)
def release(consultation_id: uuid.UUID, session: SessionDep, user: DoctorUser) -> Consultation:
    return review_service.release(session, actor=user, consultation_id=consultation_id)


@router.get("/consultations/{consultation_id}/reviews", response_model=list[ReviewRead])
def reviews(
    consultation_id: uuid.UUID, session: SessionDep, user: DoctorUser
) -> list[DoctorReview]:
    return review_service.list_reviews(session, actor=user, consultation_id=consultation_id)


@router.post("/consultations/{consultation_id}/reviews", response_model=ReviewRead, status_code=201)
def submit_review(
    consultation_id: uuid.UUID, body: ReviewCreate, session: SessionDep, user: DoctorUser
) -> DoctorReview:
    return review_service.submit_review(
        session, actor=user, consultation_id=consultation_id, data=body
    )


@router.get("/doctor/labels", response_model=list[LabelRead])
def labels(user: DoctorUser, q: Annotated[str, Query(max_length=100)] = "") -> list[LabelRead]:
    return [
        LabelRead(
            key=label.key, display_name=label.display_name, icd10=label.icd10, urgency=label.urgency
        )
        for label in review_service.search_labels(actor=user, query=q)
    ]


@router.get("/doctor/advice/{label_key}", response_model=AdviceDraftRead)
def advice_draft(
    label_key: Annotated[str, Path(max_length=100)], session: SessionDep, user: CurrentUser
) -> AdviceDraftRead:
    """The reviewed advice draft for a diagnosis label; submit a review with its label and
    version in ``advice_template_label``/``advice_template_version`` to record its use.
    Any signed-in user reaches the service, so that a refusal is audited there."""
    draft = review_service.advice_draft(session, actor=user, label_key=label_key)
    entry = draft.entry
    return AdviceDraftRead(
        label=entry.label,
        display_name=draft.display_name,
        version=entry.version,
        reviewed_on=entry.reviewed_on,
        source=AdviceSource(name=entry.source_name, url=entry.source_url),
        self_care=[_(line) for line in entry.self_care],
        watch_for=[_(line) for line in entry.watch_for],
        seek_help_now=[_(line) for line in entry.seek_help_now],
        next_steps=[_(line) for line in entry.next_steps],
        draft=draft.text,
    )
