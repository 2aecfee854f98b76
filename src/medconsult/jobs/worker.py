"""The inference worker: procrastinate runs ``analyse_consultation`` jobs; a sweep recovers.

Runs beside ``medconsult serve`` (a child process it supervises, ``ServeWorkerProcess``, by
default; or a background thread, ``ServeWorker``) or on its own (``medconsult worker``), on any
machine that reaches the database, e.g. one with a GPU. Several workers share the queue: the
engine hands each job to exactly one of them (``FOR UPDATE SKIP LOCKED``), and a
per-consultation lock keeps two analyses of one consultation from ever running at once.

Every worker also runs a recovery sweep every few seconds:

- stalled jobs: a job held by a worker whose heartbeat is older than ``stalled_seconds`` (the
  worker died, was killed or lost its connection) goes back to the queue;
- consultations waiting for analysis without a live engine job (e.g. written by a process that
  crashed between commit and defer, or restored from a backup) get one;
- consultations waiting for a model (``waiting_for_model``) are queued again once one exists;
- the audit trail's new events are sealed, and the monitoring roll-ups of closed days brought up
  to date (``monitoring.rollups.refresh_rollups``);
- and, less often, erased patients' signed records past the retention period
  (``MEDCONSULT_RECORD_RETENTION_YEARS``) are purged, and report files that no consultation
  references (left by a submission whose transaction rolled back, or by such a purge) are
  deleted once past a grace period.

This module imports torch only when it loads a model (``ModelCache``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import procrastinate
from sqlalchemy import exists, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from medconsult.audit import service as audit_service
from medconsult.config import METRICS_MULTIPROCESS_DIR_ENV, Settings, get_settings
from medconsult.consultations import service as consultations_service
from medconsult.consultations.models import Consultation
from medconsult.db import database_url, make_engine, session_factory
from medconsult.jobs import analysis, notifications, queue
from medconsult.jobs.models import AnalysisJob, JobStatus
from medconsult.metrics import MODEL_LOAD_SECONDS, MODEL_LOADED
from medconsult.ml.structured import StructuredCase
from medconsult.ml.types import Suggestion
from medconsult.monitoring import rollups
from medconsult.records import service as records_service

log = logging.getLogger(__name__)


# --- models --------------------------------------------------------------------------------------


class _LoadedModel:
    def __init__(self, batcher: Any) -> None:
        self.batcher = batcher
        self.in_use = 0

    def suggest(self, text: str, case: StructuredCase | None = None) -> Suggestion:
        result: Suggestion = self.batcher.suggest(text, case)
        return result


class ModelCache:
    """One loaded classifier (behind one dynamic batcher) per model directory.

    The directory is resolved per job from the registry, so activating another version takes
    effect on the next job without a restart; analyses already running finish on the model they
    started with, which is closed once nothing uses it.
    """

    def __init__(self, settings: Settings, loader: Callable[[Path], Any] | None = None) -> None:
        self.settings = settings
        self._loader = loader or self._load_batcher
        self._models: dict[Path, _LoadedModel] = {}
        self._latest: Path | None = None
        self._lock = threading.Lock()

    def resolve(self, session: Session) -> Path | None:
        from medconsult.diagnosis import registry
        from medconsult.ml.errors import ArtifactError

        try:
            path = registry.active_model_dir(session)
        except ArtifactError as exc:
            log.info("no model available: %s", exc)
            return None
        return path.resolve() if path is not None else None

    def _load_batcher(self, model_dir: Path) -> Any:
        import threadpoolctl
        import torch

        from medconsult.ml.batching import DynamicBatcher
        from medconsult.ml.predict import Classifier

        if self.settings.inference_threads:
            # Process-wide: the semantic triage layer's forwards in this process follow it too.
            torch.set_num_threads(self.settings.inference_threads)
        # numpy's BLAS (the out-of-distribution check's similarities, a few small products per
        # batch) keeps a thread per core spinning between calls: a third of a core at 10
        # analyses/s, measured. One thread does that work in well under a millisecond.
        threadpoolctl.threadpool_limits(limits=1, user_api="blas")
        with MODEL_LOAD_SECONDS.time():
            classifier = Classifier.load(
                model_dir,
                device=self.settings.inference_device,
                precision=self.settings.inference_precision,
                packed=self.settings.inference_packed,
            )
        MODEL_LOADED.labels(classifier.version).set(1)
        log.info(
            "loaded model %s on %s at %s precision (%s forward)",
            classifier.version,
            classifier.device,
            classifier.precision,
            "packed" if classifier.engine is not None else "Hugging Face",
        )
        return DynamicBatcher(
            classifier,
            max_batch_size=self.settings.inference_max_batch_size,
            max_wait_ms=self.settings.inference_max_wait_ms,
        )

    @contextmanager
    def use(self, model_dir: Path) -> Iterator[analysis.SuggestionSource]:
        with self._lock:
            loaded = self._models.get(model_dir)
            if loaded is None:
                log.info("loading model %s", model_dir)
                loaded = _LoadedModel(self._loader(model_dir))
                self._models[model_dir] = loaded
            self._latest = model_dir
            loaded.in_use += 1
            self._close_unused_locked()
        try:
            yield loaded
        finally:
            with self._lock:
                loaded.in_use -= 1
                self._close_unused_locked()

    def _close_unused_locked(self) -> None:
        for path, loaded in list(self._models.items()):
            if path != self._latest and loaded.in_use == 0:
                del self._models[path]
                with suppress(Exception):
                    loaded.batcher.close()

    @property
    def loaded_dirs(self) -> list[Path]:
        with self._lock:
            return list(self._models)

    def close(self) -> None:
        with self._lock:
            for loaded in self._models.values():
                with suppress(Exception):
                    loaded.batcher.close()
            self._models.clear()


# --- the job engine ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerOptions:
    """One worker's timings (their meaning and defaults: ``config.Settings.worker_*``)."""

    concurrency: int  # analyses in flight; they share the model through the batcher
    heartbeat_seconds: float
    stalled_seconds: float
    sweep_seconds: float
    prune_seconds: float
    orphan_grace_seconds: float
    poll_seconds: float
    shutdown_seconds: float
    name: str = "medconsult-worker"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WorkerOptions:
        """The settings' timings; ``overrides`` (e.g. from the command line) win."""
        values: dict[str, Any] = {
            "concurrency": settings.worker_concurrency,
            "heartbeat_seconds": settings.worker_heartbeat_seconds,
            "stalled_seconds": settings.worker_stalled_seconds,
            "sweep_seconds": settings.worker_sweep_seconds,
            "prune_seconds": settings.worker_prune_seconds,
            "orphan_grace_seconds": settings.worker_orphan_grace_seconds,
            "poll_seconds": settings.worker_poll_seconds,
            "shutdown_seconds": settings.worker_shutdown_seconds,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


def engine_conninfo(settings: Settings) -> str:
    """A libpq URL for the engine's psycopg pool (the app's URL without the driver suffix)."""
    url = database_url(settings)
    return "postgresql://" + url.removeprefix("postgresql+psycopg://")


def build_app(
    *,
    settings: Settings,
    factory: sessionmaker[Session],
    models: analysis.ModelProvider,
) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=engine_conninfo(settings),
            min_size=1,
            max_size=settings.worker_engine_pool_size,
        )
    )

    @app.task(
        name=queue.ANALYSE_TASK,
        queue=queue.ANALYSIS_QUEUE,
        retry=procrastinate.RetryStrategy(
            # Our own attempts counter decides when to give up; this only bounds the engine.
            max_attempts=settings.job_max_attempts + 2,
            wait=2,
            retry_exceptions={analysis.RetryLater},
        ),
    )
    def analyse_consultation(consultation_id: str) -> str:
        return analysis.analyse(
            factory,
            consultation_id=uuid.UUID(consultation_id),
            models=models,
            settings=settings,
        )

    @app.task(
        name=queue.NOTIFY_TASK,
        queue=queue.NOTIFICATION_QUEUE,
        retry=procrastinate.RetryStrategy(
            # deliver() marks the e-mail failed at the last attempt; this only bounds the engine.
            max_attempts=settings.notification_max_attempts,
            exponential_wait=2,  # seconds: 2, 4, 8, 16, ... between attempts
            retry_exceptions={notifications.SendLater},
        ),
    )
    def send_notification_email(notification_id: str) -> str:
        return notifications.deliver(
            factory, notification_id=uuid.UUID(notification_id), settings=settings
        )

    return app


# --- recovery ------------------------------------------------------------------------------------


async def recover_stalled_jobs(app: procrastinate.App, *, stalled_seconds: float) -> int:
    """Put back jobs held by workers without a recent heartbeat; how many."""
    stalled: list[Any] = []
    for name in (queue.ANALYSIS_QUEUE, queue.NOTIFICATION_QUEUE):
        stalled += await app.job_manager.get_stalled_jobs(
            queue=name, seconds_since_heartbeat=stalled_seconds
        )
    recovered = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except Exception as exc:  # another worker's sweep took it back first
            log.debug("stalled job %s not retried: %s", job.id, exc)
            continue
        log.warning("job %s was held by a stalled worker; queued again", job.id)
        recovered += 1
    return recovered


_ENGINE_JOB_LIVE = text(
    "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs"
    " WHERE id = :id AND status IN ('todo', 'doing'))"
)


def _defer_in_savepoint(session: Session, job: AnalysisJob) -> bool:
    try:
        with session.begin_nested():
            job.engine_job_id = queue.defer_analysis(session, consultation_id=job.consultation_id)
            session.flush()
    except IntegrityError:  # another sweep queued it at the same moment
        return False
    return True


def requeue_orphans(session: Session, *, models: analysis.ModelProvider) -> int:
    """Give every consultation that waits for analysis a live engine job; how many were queued.

    The caller commits. Rows are locked with SKIP LOCKED so concurrent sweeps split the work.
    """
    queued = 0
    # Consented consultations still waiting for analysis but without our job row.
    missing = session.scalars(
        select(Consultation)
        .where(
            Consultation.status.in_(analysis.PENDING_CONSULTATION_STATUSES),
            Consultation.ai_consent,
            ~exists().where(AnalysisJob.consultation_id == Consultation.id),
        )
        .limit(100)
        .with_for_update(skip_locked=True)
    ).all()
    for consultation in missing:
        job = AnalysisJob(consultation_id=consultation.id, status=JobStatus.queued, attempts=0)
        session.add(job)
        session.flush()
        queued += _defer_in_savepoint(session, job)
    # Our job says queued or running, but the engine has no live job for it.
    active = session.scalars(
        select(AnalysisJob)
        .where(AnalysisJob.status.in_((JobStatus.queued, JobStatus.running)))
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    for job in active:
        live = job.engine_job_id is not None and session.scalar(
            _ENGINE_JOB_LIVE, {"id": job.engine_job_id}
        )
        if (
            not live
            and queue.pending_engine_job(session, consultation_id=job.consultation_id) is None
        ):
            queued += _defer_in_savepoint(session, job)
    # Waiting for a model: once one exists, analyse them.
    waiting = session.scalars(
        select(AnalysisJob)
        .where(AnalysisJob.status == JobStatus.waiting_for_model)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    if waiting and models.resolve(session) is not None:
        for job in waiting:
            job.status = JobStatus.queued
            job.last_error = None
            queued += _defer_in_savepoint(session, job)
    return queued


def housekeeping(
    factory: sessionmaker[Session], *, settings: Settings, grace_seconds: float
) -> int:
    """The slow sweep: purge erased patients' records past their retention period, then
    delete report files nothing references; returns how many files were deleted."""
    with factory() as session, session.begin():
        records_service.purge_expired_records(session, settings=settings)
    with factory() as session, session.begin():
        return consultations_service.prune_orphan_reports(
            session, upload_dir=settings.upload_dir, grace_seconds=grace_seconds
        )


# --- running -------------------------------------------------------------------------------------


async def _sweep_forever(
    app: procrastinate.App,
    factory: sessionmaker[Session],
    models: analysis.ModelProvider,
    options: WorkerOptions,
    settings: Settings,
) -> None:
    def sweep_tables() -> int:
        with factory() as session, session.begin():
            return requeue_orphans(session, models=models)

    def seal_audit() -> int:
        with factory() as session, session.begin():
            return audit_service.seal_all(session)

    def roll_up_monitoring() -> int:
        with factory() as session, session.begin():
            return rollups.refresh_rollups(session)

    def prune_files() -> int:
        return housekeeping(factory, settings=settings, grace_seconds=options.orphan_grace_seconds)

    next_prune = 0.0
    while True:
        try:
            recovered = await recover_stalled_jobs(app, stalled_seconds=options.stalled_seconds)
            requeued = await asyncio.to_thread(sweep_tables)
            if recovered or requeued:
                log.info("recovery sweep: %d stalled, %d requeued", recovered, requeued)
            await asyncio.to_thread(seal_audit)
            await asyncio.to_thread(roll_up_monitoring)
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + options.prune_seconds
                await asyncio.to_thread(prune_files)
        except Exception:  # the sweep must outlive a lost connection; it retries next round
            log.exception("recovery sweep failed")
        await asyncio.sleep(options.sweep_seconds)


async def run_worker(
    options: WorkerOptions,
    *,
    settings: Settings | None = None,
    factory: sessionmaker[Session] | None = None,
    models: ModelCache | None = None,
    install_signal_handlers: bool = True,
) -> None:
    """Run one worker until cancelled (or until SIGINT/SIGTERM when it owns the process)."""
    settings = settings or get_settings()
    engine = None
    if factory is None:
        # A pool of its own: in `serve` the web requests keep theirs, and a job that finds every
        # worker connection busy waits for one instead of failing.
        engine = make_engine(
            pool_size=min(settings.worker_db_pool_size, options.concurrency),
            max_overflow=0,
            pool_timeout=60,
        )
        factory = session_factory(engine)
    models = models or ModelCache(settings)
    app = build_app(settings=settings, factory=factory, models=models)
    # The engine runs each synchronous job through the loop's default executor, which asyncio
    # sizes by the core count (6 threads on 2 cores): that, not ``concurrency``, would bound the
    # analyses in flight and so the batches the model sees. One thread per job slot, and one for
    # the sweep, which then never waits behind a full set of analyses.
    executor = ThreadPoolExecutor(
        max_workers=options.concurrency + 1, thread_name_prefix="analysis"
    )
    asyncio.get_running_loop().set_default_executor(executor)
    async with app.open_async():
        sweeper = asyncio.create_task(_sweep_forever(app, factory, models, options, settings))
        try:
            await app.run_worker_async(
                queues=[queue.ANALYSIS_QUEUE, queue.NOTIFICATION_QUEUE],
                name=options.name,
                concurrency=options.concurrency,
                wait=True,
                fetch_job_polling_interval=options.poll_seconds,
                update_heartbeat_interval=options.heartbeat_seconds,
                stalled_worker_timeout=options.stalled_seconds,
                install_signal_handlers=install_signal_handlers,
                shutdown_graceful_timeout=options.shutdown_seconds,
            )
        finally:
            sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await sweeper
            models.close()
            executor.shutdown(wait=False)
            if engine is not None:
                engine.dispose()


class ServeWorker:
    """The worker inside ``medconsult serve``: its own thread and loop, stopped with the app."""

    def __init__(self, options: WorkerOptions | None = None) -> None:
        self.options = options or WorkerOptions.from_settings(
            get_settings(), name="medconsult-serve-worker"
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="analysis-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(run_worker(self.options, install_signal_handlers=False))
            self._started.set()
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the analysis worker stopped with an error")
        finally:
            self._started.set()
            loop.close()

    def stop(self, timeout: float = 35.0) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout=timeout)


# A child that dies is started again after this many seconds, doubling up to the maximum while
# it keeps dying young; one that ran at least HEALTHY_RUN_SECONDS starts over at the minimum.
RESTART_DELAY_MIN_SECONDS = 1.0
RESTART_DELAY_MAX_SECONDS = 30.0
HEALTHY_RUN_SECONDS = 60.0


class ServeWorkerProcess:
    """The worker inside ``medconsult serve`` as a child process (``medconsult worker``), started
    and stopped with the app, started again if it dies.

    Its own interpreter: the model's forward passes and the web requests never take turns on one
    interpreter lock. In one process, at 20 submissions/s on two cores the web threads and the
    analyses slowed each other so much that suggestions were stored at about 16/s and queued
    for 20 s (p95); with the worker in a process of its own, 19.8/s and p95 0.9 s
    (``benchmarks/load.py``). The child reaches the same database (its URL is passed on, the
    embedded server's included) and exits when the server's process is gone.
    """

    def __init__(
        self,
        *,
        database_url: str,
        name: str = "medconsult-serve-worker",
        stop_seconds: float = 35.0,
    ) -> None:
        self._env = os.environ | {"MEDCONSULT_DATABASE_URL": database_url}
        self._command = [
            sys.executable,
            "-m",
            "medconsult.cli",
            "worker",
            "--name",
            name,
            "--exit-with-parent",
        ]
        self._stop_seconds = stop_seconds
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._supervisor = threading.Thread(
            target=self._supervise, name="analysis-worker-supervisor", daemon=True
        )

    def _spawn(self) -> None:
        self._process = subprocess.Popen(self._command, env=self._env)
        self._started_at = time.monotonic()

    def start(self) -> None:
        with self._lock:
            self._spawn()
        self._supervisor.start()

    def _supervise(self) -> None:
        delay = RESTART_DELAY_MIN_SECONDS
        while True:
            with self._lock:
                process = self._process
            assert process is not None
            code = process.wait()
            _forget_process_metrics(process.pid)
            if self._stopping.is_set():
                return
            if time.monotonic() - self._started_at >= HEALTHY_RUN_SECONDS:
                delay = RESTART_DELAY_MIN_SECONDS
            log.error("the analysis worker exited (%s); starting it again in %.0f s", code, delay)
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._spawn()
            delay = min(delay * 2, RESTART_DELAY_MAX_SECONDS)

    def stop(self) -> None:
        """Ask the child to finish its analyses in flight and exit (SIGTERM); kill it if it has
        not within ``stop_seconds``."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self._stop_seconds)
            except subprocess.TimeoutExpired:
                log.warning("the analysis worker did not stop in time; killing it")
                process.kill()
                process.wait()
        self._supervisor.join(timeout=5)


def _forget_process_metrics(pid: int) -> None:
    """Drop a dead child's live gauges from the shared metrics directory (multi-process mode)."""
    if os.environ.get(METRICS_MULTIPROCESS_DIR_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """In a child worker: stop gracefully (SIGTERM to itself) once the parent process is gone,
    e.g. killed without the chance to stop its children."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        log.warning("the server process is gone: stopping this worker")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
