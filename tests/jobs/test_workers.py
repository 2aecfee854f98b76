"""Real ``medconsult worker`` processes sharing one database, with the tiny real model.

- A worker killed with SIGKILL while it holds a job: after the lease (no heartbeat for
  ``--stalled-seconds``) another worker's recovery sweep puts the job back and finishes it; the
  consultation ends with exactly one current suggestion.
- Two workers, several jobs: every job is processed exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from medconsult.consultations import service as consultations_service
from medconsult.consultations.schemas import ConsultationCreate
from medconsult.diagnosis.models import AISuggestion
from medconsult.jobs.analysis import HOLD_ENV
from medconsult.jobs.models import AnalysisJob, JobStatus
from tests import factories
from tests.jobs.processes import wait_for

STALLED_SECONDS = 4


class Workers:
    """Starts worker processes; kills whatever is still running at the end of the test."""

    def __init__(self, database_url: str, model_dir: Path, log_dir: Path) -> None:
        self.database_url = database_url
        self.model_dir = model_dir
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, *, hold_seconds: float = 0, concurrency: int = 1
    ) -> subprocess.Popen[bytes]:
        env = os.environ | {
            "MEDCONSULT_DATABASE_URL": self.database_url,
            "MEDCONSULT_MODEL_DIR": str(self.model_dir),
            "MEDCONSULT_ENV": "testing",
            HOLD_ENV: str(hold_seconds),
        }
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "medconsult.cli",
                "worker",
                "--name",
                name,
                "--concurrency",
                str(concurrency),
                "--heartbeat-seconds",
                "1",
                "--stalled-seconds",
                str(STALLED_SECONDS),
                "--sweep-seconds",
                "1",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(worker_database_url: str, tiny_model_dir: Path, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(worker_database_url, tiny_model_dir, tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def committed(worker_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=worker_engine, expire_on_commit=False)


def _submit(factory: sessionmaker[Session], count: int) -> list[uuid.UUID]:
    ids = []
    with factory() as session, session.begin():
        patient = factories.create_user(
            session, email=f"worker-{uuid.uuid4().hex[:10]}@example.org"
        )
        for index in range(count):
            consultation, _ = consultations_service.submit(
                session,
                actor=patient,
                data=ConsultationCreate(
                    chief_complaint=f"Cough {index}",
                    history="A dry cough and a mild fever for four days, worse at night.",
                    ai_consent=True,
                    idempotency_key=uuid.uuid4().hex,
                ),
                uploads=[],
            )
            ids.append(consultation.id)
    return ids


def _wait_for(condition: Callable[[], bool], what: str, workers: Workers) -> None:
    def logs() -> str:
        return "\n".join(
            f"--- {p.args[5]}\n{workers.log(str(p.args[5]))[-3000:]}"  # type: ignore[index]
            for p in workers.processes
        )

    wait_for(condition, what, logs)


def _jobs(factory: sessionmaker[Session], ids: list[uuid.UUID]) -> list[AnalysisJob]:
    with factory() as session:
        return list(
            session.scalars(select(AnalysisJob).where(AnalysisJob.consultation_id.in_(ids))).all()
        )


def _suggestion_counts(
    factory: sessionmaker[Session], ids: list[uuid.UUID], *, current_only: bool
) -> dict[uuid.UUID, int]:
    with factory() as session:
        query = (
            select(AISuggestion.consultation_id, func.count())
            .where(AISuggestion.consultation_id.in_(ids))
            .group_by(AISuggestion.consultation_id)
        )
        if current_only:
            query = query.where(AISuggestion.is_current)
        return {row[0]: int(row[1]) for row in session.execute(query).all()}


def _engine_status(factory: sessionmaker[Session], engine_job_id: int | None) -> str:
    with factory() as session:
        return str(
            session.scalar(
                text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": engine_job_id}
            )
        )


@pytest.mark.slow
class TestWorkerKilledMidAnalysis:
    def test_another_worker_finishes_the_job_after_the_lease(
        self, workers: Workers, committed: sessionmaker[Session]
    ) -> None:
        [consultation_id] = _submit(committed, 1)
        doomed = workers.start("doomed", hold_seconds=600)
        _wait_for(
            lambda: _jobs(committed, [consultation_id])[0].status is JobStatus.running,
            "the first worker to claim the job",
            workers,
        )
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        [held] = _jobs(committed, [consultation_id])
        assert held.status is JobStatus.running
        assert _engine_status(committed, held.engine_job_id) == "doing"

        workers.start("rescuer")

        _wait_for(
            lambda: _jobs(committed, [consultation_id])[0].status is JobStatus.succeeded,
            "the second worker to finish the job",
            workers,
        )
        [job] = _jobs(committed, [consultation_id])
        assert job.attempts == 2
        assert _engine_status(committed, job.engine_job_id) == "succeeded"
        assert _suggestion_counts(committed, [consultation_id], current_only=True) == {
            consultation_id: 1
        }
        assert _suggestion_counts(committed, [consultation_id], current_only=False) == {
            consultation_id: 1
        }


@pytest.mark.slow
class TestTwoWorkersShareTheQueue:
    def test_each_job_is_processed_exactly_once(
        self, workers: Workers, committed: sessionmaker[Session]
    ) -> None:
        ids = _submit(committed, 6)

        workers.start("alpha", hold_seconds=1.5)
        workers.start("beta", hold_seconds=1.5)

        _wait_for(
            lambda: all(job.status is JobStatus.succeeded for job in _jobs(committed, ids)),
            "all jobs to succeed",
            workers,
        )
        jobs = _jobs(committed, ids)
        assert [job.attempts for job in jobs] == [1] * len(ids)
        assert _suggestion_counts(committed, ids, current_only=False) == dict.fromkeys(ids, 1)
        with committed() as session:
            starts = session.execute(
                text(
                    "SELECT job_id, count(*) FROM procrastinate_events "
                    "WHERE type = 'started' AND job_id = ANY(:ids) GROUP BY job_id"
                ),
                {"ids": [job.engine_job_id for job in jobs]},
            ).all()
        assert sorted(count for _, count in starts) == [1] * len(ids)
        assert "Starting job" in workers.log("alpha")
        assert "Starting job" in workers.log("beta")
