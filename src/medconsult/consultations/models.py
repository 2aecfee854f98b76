"""Consultations, their report files and messages."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medconsult.accounts.models import User
from medconsult.db import Base, Timestamped, Updated, UUIDPk, utcnow


class ConsultationStatus(enum.StrEnum):
    submitted = "submitted"
    analysing = "analysing"
    awaiting_review = "awaiting_review"
    in_review = "in_review"
    concluded = "concluded"
    closed = "closed"


class Urgency(enum.StrEnum):
    emergency = "emergency"
    urgent = "urgent"
    routine = "routine"
    self_care = "self-care"


# Sorting key: emergency first.
URGENCY_RANK = {
    Urgency.emergency: 0,
    Urgency.urgent: 1,
    Urgency.routine: 2,
    Urgency.self_care: 3,
}


class Consultation(UUIDPk, Timestamped, Updated, Base):
    __tablename__ = "consultations"
    __table_args__ = (
        UniqueConstraint("patient_id", "idempotency_key", name="uq_consultations_idempotency"),
        Index("ix_consultations_queue", "status", "urgency_rank", "submitted_at"),
        # The whole queue (every status) in display order, for its "all" tab.
        Index("ix_consultations_queue_order", "urgency_rank", "submitted_at", "id"),
        # The open queue in display order: its first page is read without a sort.
        Index(
            "ix_consultations_open_queue",
            "urgency_rank",
            "submitted_at",
            "id",
            postgresql_where=text(
                "status IN ('submitted', 'analysing', 'awaiting_review', 'in_review')"
            ),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    doctor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ConsultationStatus] = mapped_column(
        Enum(ConsultationStatus, name="consultation_status"), default=ConsultationStatus.submitted
    )
    chief_complaint: Mapped[str] = mapped_column(String(500))
    history: Mapped[str] = mapped_column(Text, default="")
    past_history: Mapped[str] = mapped_column(Text, default="")
    current_medications: Mapped[str] = mapped_column(Text, default="")
    ai_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    # Denormalised from the current suggestion so the doctors' queue sorts in one index scan.
    urgency: Mapped[Urgency | None] = mapped_column(
        Enum(Urgency, name="urgency", values_callable=lambda e: [m.value for m in e])
    )
    urgency_rank: Mapped[int] = mapped_column(Integer, default=9, server_default=text("9"))
    # Red flags of the triage layers (medconsult.triage), independent of any AI suggestion:
    # [{"category", "reason", "sentence", "matched_text", "start", "end", "layer", "score"}].
    red_flags: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    triaged_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    concluded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    patient: Mapped[User] = relationship(foreign_keys=[patient_id])
    doctor: Mapped[User | None] = relationship(foreign_keys=[doctor_id])
    reports: Mapped[list[ReportFile]] = relationship(
        back_populates="consultation", order_by="ReportFile.created_at"
    )


class ReportFile(UUIDPk, Timestamped, Base):
    __tablename__ = "report_files"

    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Random key under the upload folder: a patient's filename is never a path.
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    extracted_text: Mapped[str] = mapped_column(Text, default="")
    extraction_failed: Mapped[bool] = mapped_column(Boolean, default=False)

    consultation: Mapped[Consultation] = relationship(back_populates="reports")


class Message(UUIDPk, Timestamped, Base):
    __tablename__ = "messages"

    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)

    sender: Mapped[User] = relationship()
