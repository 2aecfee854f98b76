"""Consultation schemas: bounded input, and the patient's view as output (bands, not floats)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medconsult.consultations.models import ConsultationStatus, Message
from medconsult.jobs.models import JobStatus

CHIEF_COMPLAINT_MAX = 500
IDEMPOTENCY_KEY_MAX = 100
MESSAGE_MAX = 5000


class ConsultationCreate(BaseModel):
    """What a patient submits (report files travel beside it). Text limits beyond the column
    sizes come from settings and are checked by the service."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    chief_complaint: str = Field(min_length=1, max_length=CHIEF_COMPLAINT_MAX)
    history: str = Field(min_length=1)
    past_history: str = ""
    current_medications: str = ""
    ai_consent: bool
    idempotency_key: str | None = Field(
        default=None, max_length=IDEMPOTENCY_KEY_MAX, pattern=r"^[A-Za-z0-9_-]+$"
    )

    @field_validator("ai_consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if not value:
            raise ValueError("Please agree to the AI-assisted analysis to submit.")
        return value


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    body: str = Field(min_length=1, max_length=MESSAGE_MAX)


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    consultation_id: uuid.UUID
    sender_id: uuid.UUID
    sender_role: str
    sender_name: str
    body: str
    created_at: datetime


class ReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    original_name: str
    content_type: str
    size_bytes: int
    extracted_text: str
    extraction_failed: bool


class SuggestionItemRead(BaseModel):
    display_name: str
    band: str
    band_label: str


class SuggestionRead(BaseModel):
    """The preliminary AI suggestion as a patient sees it."""

    preliminary: bool
    urgency: str
    red_flag_reasons: list[str]
    abstained: bool
    items: list[SuggestionItemRead]


class AdviceRead(BaseModel):
    """What to do now for the consultation's red flags (from the triage rules, not a doctor)."""

    title: str
    body: str
    crisis: str | None
    actions: list[str]
    reasons: list[str]
    categories: list[str]


class ConclusionRead(BaseModel):
    diagnosis: str
    icd10_code: str
    advice: str
    ai_suggestion: str  # "accepted", "modified" or "overridden"
    signed_at: datetime
    # Safety-netting that ends every conclusion: "Seek help now if ..." and what to do then.
    seek_help_now: list[str]
    emergency: str


class ConsultationSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    chief_complaint: str
    status: ConsultationStatus
    urgency: str | None
    submitted_at: datetime


class ConsultationFields(BaseModel):
    """A consultation's own columns, read from the row; ``ConsultationRead`` adds the rest."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: ConsultationStatus
    chief_complaint: str
    history: str
    past_history: str
    current_medications: str
    ai_consent: bool
    submitted_at: datetime


class ConsultationRead(ConsultationFields):
    analysis_status: JobStatus | None
    reports: list[ReportRead]
    suggestion: SuggestionRead | None
    conclusion: ConclusionRead | None
    advice: AdviceRead | None = None


def read_message(message: Message) -> MessageRead:
    return MessageRead(
        id=message.id,
        consultation_id=message.consultation_id,
        sender_id=message.sender_id,
        sender_role=str(message.sender.role),
        sender_name=message.sender.full_name,
        body=message.body,
        created_at=message.created_at,
    )
