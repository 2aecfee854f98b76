"""Consultations JSON API (patients' side; doctors use their own review API)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile, status
from pydantic import ValidationError

from medconsult.auth import CurrentUser, PatientUser
from medconsult.consultations import service
from medconsult.consultations.http import read_uploads
from medconsult.consultations.models import Consultation
from medconsult.consultations.schemas import (
    AdviceRead,
    ConclusionRead,
    ConsultationCreate,
    ConsultationFields,
    ConsultationRead,
    ConsultationSummary,
    MessageCreate,
    MessageRead,
    ReportRead,
    SuggestionItemRead,
    SuggestionRead,
    read_message,
)
from medconsult.consultations.service import ConsultationDetail
from medconsult.db import SessionDep
from medconsult.errors import ValidationFailed
from medconsult.i18n import _
from medconsult.review import advice as advice_library
from medconsult.web.forms import field_messages

router = APIRouter(prefix="/consultations", tags=["consultations"])


def read_detail(info: ConsultationDetail) -> ConsultationRead:
    """The patient's JSON view of a consultation page: bands and words, no raw probabilities."""
    consultation = info.consultation
    suggestion = None
    if info.suggestion is not None:
        suggestion = SuggestionRead(
            preliminary=info.suggestion_preliminary,
            urgency=info.suggestion.urgency,
            red_flag_reasons=list(info.suggestion.red_flag_reasons),
            abstained=info.suggestion.abstained,
            items=[
                SuggestionItemRead(
                    display_name=item.display_name, band=item.band, band_label=item.band_label
                )
                for item in info.suggestion.items
            ],
        )
    conclusion = None
    if info.review is not None:
        conclusion = ConclusionRead(
            diagnosis=info.review.final_diagnosis,
            icd10_code=info.review.icd10_code,
            advice=info.review.advice,
            ai_suggestion=info.ai_verdict or "overridden",
            signed_at=info.review.signed_at,
            seek_help_now=[_(line) for line in info.safety_netting],
            emergency=_(advice_library.EMERGENCY_WORDING),
        )
    return ConsultationRead(
        **dict(ConsultationFields.model_validate(consultation)),
        analysis_status=info.job.status if info.job else None,
        reports=[ReportRead.model_validate(r) for r in consultation.reports],
        suggestion=suggestion,
        conclusion=conclusion,
        advice=(
            AdviceRead(
                title=info.advice.title,
                body=info.advice.body,
                crisis=info.advice.crisis,
                actions=list(info.advice.actions),
                reasons=list(info.advice.reasons),
                categories=[str(flag.get("category")) for flag in consultation.red_flags or []],
            )
            if info.advice is not None
            else None
        ),
    )


@router.get("", response_model=list[ConsultationSummary])
def list_consultations(session: SessionDep, user: PatientUser) -> list[Consultation]:
    return service.list_own(session, actor=user)


@router.post("", response_model=ConsultationRead, status_code=status.HTTP_201_CREATED)
def create_consultation(
    response: Response,
    session: SessionDep,
    user: PatientUser,
    chief_complaint: Annotated[str, Form()] = "",
    history: Annotated[str, Form()] = "",
    past_history: Annotated[str, Form()] = "",
    current_medications: Annotated[str, Form()] = "",
    ai_consent: Annotated[bool, Form()] = False,
    idempotency_key: Annotated[str, Form()] = "",
    reports: Annotated[list[UploadFile] | None, File()] = None,
) -> ConsultationRead:
    """Multipart form: the text fields, ``ai_consent=true`` and any ``reports`` files.

    Sending the same ``idempotency_key`` again returns the first consultation (200).
    """
    try:
        data = ConsultationCreate(
            chief_complaint=chief_complaint,
            history=history,
            past_history=past_history,
            current_medications=current_medications,
            ai_consent=ai_consent,
            idempotency_key=idempotency_key or None,
        )
    except ValidationError as exc:
        raise ValidationFailed(field_messages(exc.errors())) from None
    consultation, created = service.submit(
        session, actor=user, data=data, uploads=read_uploads(reports)
    )
    if not created:
        response.status_code = status.HTTP_200_OK
        return read_detail(service.detail(session, actor=user, consultation_id=consultation.id))
    return read_detail(service.detail_after_submit(session, consultation=consultation))


@router.get("/{consultation_id}", response_model=ConsultationRead)
def get_consultation(
    consultation_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> ConsultationRead:
    return read_detail(service.detail(session, actor=user, consultation_id=consultation_id))


@router.get("/{consultation_id}/messages", response_model=list[MessageRead])
def list_messages(
    consultation_id: uuid.UUID, session: SessionDep, user: CurrentUser
) -> list[MessageRead]:
    messages = service.list_messages(session, actor=user, consultation_id=consultation_id)
    return [read_message(m) for m in messages]


@router.post(
    "/{consultation_id}/messages", response_model=MessageRead, status_code=status.HTTP_201_CREATED
)
def post_message(
    consultation_id: uuid.UUID, body: MessageCreate, session: SessionDep, user: CurrentUser
) -> MessageRead:
    message = service.post_message(
        session, actor=user, consultation_id=consultation_id, body=body.body
    )
    return read_message(message)
