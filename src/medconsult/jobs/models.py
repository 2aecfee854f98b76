"""Our record of each consultation's AI analysis; the queue itself is the job engine's."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medconsult.db import Base, Timestamped, Updated, UUIDPk


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    waiting_for_model = "waiting_for_model"


class AnalysisJob(UUIDPk, Timestamped, Updated, Base):
    """Our view of the AI analysis of one consultation; the queue itself is the job engine's."""

    __tablename__ = "analysis_jobs"

    consultation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), unique=True
    )
    engine_job_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, name="job_status"), default=JobStatus.queued
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
