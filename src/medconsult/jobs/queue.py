"""Enqueue analysis and notification jobs in the caller's transaction (procrastinate-free).

The job engine is procrastinate; its schema lives in our database (migration 0002). Deferring
through its own stored procedure on the caller's SQLAlchemy connection means the consultation,
our ``analysis_jobs`` row and the engine's job commit or roll back together: a committed
consultation always has its job, and a rolled-back one never leaves an orphan job behind.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from medconsult.jobs.models import AnalysisJob, JobStatus

ANALYSIS_QUEUE = "analysis"
ANALYSE_TASK = "medconsult.analyse_consultation"
NOTIFICATION_QUEUE = "notifications"
NOTIFY_TASK = "medconsult.send_notification_email"

_DEFER_SQL = text(
    """
    SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[
        ROW(:queue, :task, 0, :lock, :queueing_lock, CAST(:args AS jsonb), NULL)
            ::procrastinate_job_to_defer_v1
    ]))
    """
)

_PENDING_SQL = text(
    """
    SELECT id FROM procrastinate_jobs
    WHERE queueing_lock = :queueing_lock AND status IN ('todo', 'doing')
    ORDER BY id LIMIT 1
    """
)


def job_lock(consultation_id: uuid.UUID) -> str:
    """Engine lock: two jobs for one consultation never run at the same time."""
    return f"analysis:{consultation_id}"


def queueing_lock(consultation_id: uuid.UUID) -> str:
    """Engine queueing lock: at most one waiting job per consultation."""
    return f"analysis-queued:{consultation_id}"


def pending_engine_job(session: Session, *, consultation_id: uuid.UUID) -> int | None:
    """The engine job already waiting or running for this consultation, if any."""
    value = session.scalar(_PENDING_SQL, {"queueing_lock": queueing_lock(consultation_id)})
    return int(value) if value is not None else None


def defer_analysis(session: Session, *, consultation_id: uuid.UUID) -> int:
    """Queue the analysis of one consultation in the caller's transaction; the engine job id.

    If a job is already waiting or running for it, that job's id is returned instead.
    """
    existing = pending_engine_job(session, consultation_id=consultation_id)
    if existing is not None:
        return existing
    job_id = session.scalar(
        _DEFER_SQL,
        {
            "queue": ANALYSIS_QUEUE,
            "task": ANALYSE_TASK,
            "lock": job_lock(consultation_id),
            "queueing_lock": queueing_lock(consultation_id),
            "args": json.dumps({"consultation_id": str(consultation_id)}),
        },
    )
    if job_id is None:
        raise RuntimeError("the job engine did not return a job id")
    return int(job_id)


def requeue_analysis(session: Session, *, job: AnalysisJob) -> None:
    """Put a finished (or failed, or waiting) analysis back in the queue with fresh attempts."""
    job.status = JobStatus.queued
    job.attempts = 0
    job.last_error = None
    job.finished_at = None
    job.engine_job_id = defer_analysis(session, consultation_id=job.consultation_id)


def defer_notification(session: Session, *, notification_id: uuid.UUID) -> int:
    """Queue the e-mail for one notice in the caller's transaction; the engine job id."""
    job_id = session.scalar(
        _DEFER_SQL,
        {
            "queue": NOTIFICATION_QUEUE,
            "task": NOTIFY_TASK,
            "lock": None,
            "queueing_lock": f"notification:{notification_id}",
            "args": json.dumps({"notification_id": str(notification_id)}),
        },
    )
    if job_id is None:
        raise RuntimeError("the job engine did not return a job id")
    return int(job_id)
