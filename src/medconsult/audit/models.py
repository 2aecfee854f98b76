"""Audit events: append-only, each chained to the previous one by a SHA-256 hash."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Enum, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from medconsult.db import Base, UUIDPk, utcnow


class Outcome(enum.StrEnum):
    success = "success"
    failure = "failure"
    denied = "denied"


class AuditEvent(UUIDPk, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_actor_time", "actor_id", "occurred_at"),
        Index("ix_audit_events_patient_time", "patient_id", "occurred_at"),
        Index("ix_audit_events_action_time", "action", "occurred_at"),
        Index("ix_audit_events_unsealed", "seq", postgresql_where=text("chain_pos IS NULL")),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # No foreign keys: the trail outlives the records it describes.
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100))
    record_type: Mapped[str | None] = mapped_column(String(50))
    record_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[uuid.UUID | None] = mapped_column()
    client_address: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[Outcome] = mapped_column(Enum(Outcome, name="audit_outcome"))
    # Identifiers and codes only: never a password, token or clinical text.
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Set once, by the sealer (``audit_service.seal_pending``), never by the request that
    # recorded the event: appending takes no lock, so requests never wait on each other.
    chain_pos: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
