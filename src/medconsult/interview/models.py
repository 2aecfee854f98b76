"""The intake interview of a consultation: its answers, stored structured."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from medconsult.db import Base, Timestamped, Updated, UUIDPk


class InterviewStatus(enum.StrEnum):
    in_progress = "in_progress"
    finished = "finished"


class Interview(UUIDPk, Timestamped, Updated, Base):
    """One interview per consultation. ``answers``: ``[{"code", "values", "unknown"}]`` in the
    order asked (``medconsult.interview.engine.Answer``); codes and values are the DDXPlus
    questionnaire's, so the record reads the same whatever language it was answered in."""

    __tablename__ = "intake_interviews"

    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[InterviewStatus] = mapped_column(
        Enum(InterviewStatus, name="interview_status"), default=InterviewStatus.in_progress
    )
    answers: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    # The question on screen: an answer to any other is refused (a stale form, a replay).
    pending_question: Mapped[str | None] = mapped_column(String(20))
    # Where the posterior started: {condition: probability}, and what it came from
    # ("classifier": the AI's differential on the free text; "base_rates": the data's).
    prior: Mapped[dict[str, float]] = mapped_column(JSONB, default=dict)
    prior_source: Mapped[str] = mapped_column(String(20), default="base_rates")
    max_questions: Mapped[int] = mapped_column(Integer)
    # The interview model's leading candidates when it ended: [{"condition", "probability"}].
    differential: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    # settled, low_gain, max_questions, exhausted or patient (ended by the patient).
    stop_reason: Mapped[str | None] = mapped_column(String(20))
    finished_at: Mapped[datetime | None]
