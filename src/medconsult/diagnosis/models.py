"""AI suggestions as stored: every one names the model version that produced it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from medconsult.db import Base, Timestamped, UUIDPk


class AISuggestion(UUIDPk, Timestamped, Base):
    __tablename__ = "ai_suggestions"
    __table_args__ = (
        # Exactly one current suggestion per consultation, whatever retries happen.
        Index(
            "uq_ai_suggestions_current",
            "consultation_id",
            unique=True,
            postgresql_where=text("is_current"),
        ),
        Index("ix_ai_suggestions_created_at", "created_at"),
    )

    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True
    )
    model_version: Mapped[str] = mapped_column(String(200))
    # [{"label", "display_name", "icd10", "probability", "urgency"}], best first.
    ranked: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # The differential (``ml.types.Suggestion.differential``), rows as in ``ranked``; empty for
    # suggestions stored before it was recorded.
    differential: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    top1_label: Mapped[str | None] = mapped_column(String(100))
    top1_probability: Mapped[float | None] = mapped_column(Float)
    urgency: Mapped[str] = mapped_column(String(20))
    abstained: Mapped[bool] = mapped_column(Boolean)
    # Why it abstained: "low_confidence" and/or "out_of_distribution" (medconsult.ml.ood).
    abstain_reasons: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    # The model's out-of-distribution score; None where the model had no OOD check.
    ood_score: Mapped[float | None] = mapped_column(Float)
    # [{"start", "end", "text", "score"}] over the analysed text.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    red_flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    windowed: Mapped[bool] = mapped_column(Boolean, default=False)
    n_windows: Mapped[int] = mapped_column(Integer, default=1)
    # The exact text analysed, so evidence offsets stay meaningful if records change later.
    analysed_text: Mapped[str] = mapped_column(String, default="")
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    superseded_at: Mapped[datetime | None]


class ModelVersion(UUIDPk, Timestamped, Base):
    """A model artifact known to the registry; exactly one may be active."""

    __tablename__ = "model_versions"
    __table_args__ = (
        Index(
            "uq_model_versions_active", "is_active", unique=True, postgresql_where=text("is_active")
        ),
    )

    version: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(String(1000))
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime | None]
    activated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
