"""Reads of the analysis jobs shared by the patient's pages, the doctors' pages and the worker."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from medconsult.jobs.models import AnalysisJob


def analysis_job(session: Session, *, consultation_id: uuid.UUID) -> AnalysisJob | None:
    """Our record of the consultation's AI analysis (status, attempts, last error)."""
    return session.scalar(select(AnalysisJob).where(AnalysisJob.consultation_id == consultation_id))
