"""Admin API schemas: account metadata, audit events and model versions (never clinical text)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from medconsult.accounts.models import Role
from medconsult.accounts.schemas import UserRead
from medconsult.audit.models import Outcome


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    role: Role
    full_name: str = Field(default="", max_length=200)


class StaffCreated(BaseModel):
    user: UserRead
    # Shown once: the one-time link the new colleague uses to choose a password.
    set_password_url: str


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class PasswordResetIssued(BaseModel):
    set_password_url: str


class UserPage(BaseModel):
    items: list[UserRead]
    total: int


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_address: str | None
    user_agent: str | None


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_role: str | None
    action: str
    record_type: str | None
    record_id: str | None
    patient_id: uuid.UUID | None
    client_address: str | None
    outcome: Outcome
    details: dict[str, Any]
    prev_hash: str | None  # None until the sealer links the event into the chain
    hash: str | None


class AuditPageRead(BaseModel):
    items: list[AuditEventRead]
    total: int
    page: int
    pages: int


class ChainReportRead(BaseModel):
    ok: bool
    checked: int
    broken_seq: int | None
    broken_id: uuid.UUID | None
    reason: str | None
    pending: int = 0  # recorded but not yet sealed into the chain


class ModelVersionRead(BaseModel):
    version: str
    is_active: bool
    on_disk: bool
    activated_at: datetime | None
    created_at: datetime | None
    base_model: str | None
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]


class ModelActivate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(max_length=200)


class ReanalysisQueued(BaseModel):
    queued: int  # consultations whose analysis was queued again


class AgreementRead(BaseModel):
    key: str | None
    reviewed: int
    top1: int
    top3: int
    top1_rate: float | None
    top3_rate: float | None


class DailyVolumeRead(BaseModel):
    day: str  # ISO date
    suggestions: int
    abstained: int
    emergencies: int

    @field_validator("day", mode="before")
    @classmethod
    def _iso_day(cls, value: object) -> object:
        return value.isoformat() if isinstance(value, date) else value


class AdviceUsageRead(BaseModel):
    label: str
    reviews: int
    used: int
    edited: int
    discarded: int
    without_draft: int


# Read from the attributes of ``admin.monitoring.Monitoring`` (its ``advice``: advice_drafts).
class MonitoringRead(BaseModel):
    days: int
    since: datetime
    suggestions: int
    abstain_rate: float | None
    emergency_rate: float | None
    histogram: list[int]
    daily: list[DailyVolumeRead]
    overall: AgreementRead
    by_label: list[AgreementRead]
    by_week: list[AgreementRead]
    by_version: list[AgreementRead]
    advice_drafts: list[AdviceUsageRead] = Field(
        validation_alias=AliasChoices("advice_drafts", "advice")
    )
