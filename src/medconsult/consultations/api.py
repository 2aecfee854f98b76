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
    ConsultationCreate,
    ConsultationRead,
    ConsultationSummary,
    MessageCreate,
    MessageRead,
    read_detail,
    read_message,
)
from medconsult.db import SessionDep
from medconsult.errors import ValidationFailed
from medconsult.web.forms import validation_messages

router = APIRouter(prefix="/consultations", tags=["consultations"])


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
        raise ValidationFailed(validation_messages(exc)) from None
    consultation, created = service.submit(
        session, actor=user, data=data, uploads=read_uploads(reports)
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return read_detail(service.detail(session, actor=user, consultation_id=consultation.id))


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
