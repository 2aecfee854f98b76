"""Doctor review schemas: bounded input, explicit output fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medconsult.consultations.models import ConsultationStatus, Urgency
from medconsult.jobs.models import JobStatus
from medconsult.review.models import AdviceTemplateOutcome, Decision

# Hard upper bounds that keep a request small; the service applies the configured
# limits (settings.max_text_chars) with a clear message per field.
_MAX_FIELD_CHARS = 100_000

QueueStatusFilter = Literal[
    "open",
    "all",
    "submitted",
    "analysing",
    "awaiting_review",
    "in_review",
    "concluded",
    "closed",
]


class ReviewCreate(BaseModel):
    """A doctor's signed conclusion; with ``amends_id`` it amends the current one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Decision
    # accept: which of the ranked AI labels the doctor accepts.
    accepted_label: str = Field(default="", max_length=100)
    # modify / reject: a diagnosis from the label list, or free text with an ICD-10 code.
    label_key: str = Field(default="", max_length=100)
    diagnosis: str = Field(default="", max_length=_MAX_FIELD_CHARS)
    icd10_code: str = Field(default="", max_length=_MAX_FIELD_CHARS)
    reject_reason: str = Field(default="", max_length=_MAX_FIELD_CHARS)
    advice: str = Field(default="", max_length=_MAX_FIELD_CHARS)
    private_note: str = Field(default="", max_length=_MAX_FIELD_CHARS)
    amends_id: uuid.UUID | None = None
    # The advice library draft the advice started from (GET /doctor/advice/{label}): its label
    # and version; ``advice_template_discarded`` when the doctor threw the draft away.
    advice_template_label: str = Field(default="", max_length=100)
    advice_template_version: int | None = Field(default=None, ge=1, strict=True)
    advice_template_discarded: bool = Field(default=False, strict=True)


class ReviewRead(BaseModel):
    """A signed review as the doctors see it (private note included)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    consultation_id: uuid.UUID
    doctor_id: uuid.UUID
    suggestion_id: uuid.UUID | None
    decision: Decision
    final_label: str | None
    final_diagnosis: str
    icd10_code: str
    reject_reason: str
    advice: str
    private_note: str
    signed_at: datetime
    amends_id: uuid.UUID | None
    advice_template_label: str | None
    advice_template_version: int | None
    advice_template_outcome: AdviceTemplateOutcome | None


class ClaimRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: ConsultationStatus
    doctor_id: uuid.UUID | None


class SuggestionSummary(BaseModel):
    label: str
    display_name: str
    icd10: str
    probability: float


class QueueConsultationFields(BaseModel):
    """The consultation's own columns in a queue row, read from the row."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    chief_complaint: str
    status: ConsultationStatus
    urgency: Urgency | None
    submitted_at: datetime
    doctor_id: uuid.UUID | None


class QueueItemRead(QueueConsultationFields):
    patient_name: str
    patient_age: int | None
    waiting_seconds: int
    doctor_name: str | None
    job_status: JobStatus | None
    top_suggestion: SuggestionSummary | None


class QueueRead(BaseModel):
    items: list[QueueItemRead]
    total: int
    page: int
    pages: int
    per_page: int
    counts: dict[str, int]
    # Statuses counted only up to a cap (their count is a lower bound); with ``total_capped``
    # the filtered total and ``pages`` are lower bounds too, and ``has_next`` says whether a
    # next page exists.
    counts_capped: list[str]
    total_capped: bool
    has_next: bool


class LabelRead(BaseModel):
    key: str
    display_name: str
    icd10: str
    urgency: str


class AdviceSource(BaseModel):
    name: str
    url: str


class AdviceDraftRead(BaseModel):
    """A reviewed advice library entry, offered to the doctor as an editable draft."""

    label: str
    display_name: str
    version: int
    reviewed_on: str
    source: AdviceSource
    self_care: list[str]
    watch_for: list[str]
    seek_help_now: list[str]
    next_steps: list[str]
    # The whole entry as plain text, as the review form offers it for "advice to the patient".
    draft: str
