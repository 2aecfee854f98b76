"""Prometheus metrics: request latency per route, the analysis pipeline, the model, the pool.

Process-wide collectors (one registry); the web process serves them at ``/metrics`` to the
configured addresses or with the metrics token. Queue depth and age, and the pool's use, are
read when scraped, so they are never stale.

When ``medconsult serve`` runs its worker as a child process, both write their samples to a
shared directory (prometheus_client's multi-process mode, ``PROMETHEUS_MULTIPROC_DIR``, set by
``serve`` before this module is imported) and ``/metrics`` serves their sum (``scrape_registry``):
the batch sizes, model loads and submit-to-suggestion times measured in the worker included.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from medconsult.config import METRICS_MULTIPROCESS_DIR_ENV

log = logging.getLogger(__name__)

# Seconds: from a fast page (5 ms) to the slowest acceptable answer.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "medconsult_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
SUBMIT_TO_SUGGESTION_SECONDS = Histogram(
    "medconsult_submit_to_suggestion_seconds",
    "From a consultation's submission to its AI suggestion being stored.",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)
BATCH_SIZE = Histogram(
    "medconsult_inference_batch_size",
    "Texts per forward pass of the dynamic batcher.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
MODEL_LOAD_SECONDS = Histogram(
    "medconsult_model_load_seconds",
    "Time to load a model version into a worker.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120),
)
MODEL_LOADED = Gauge(
    "medconsult_model_loaded",
    "Model versions loaded (1 each per process; with the server's worker process, their sum).",
    ["version"],
    multiprocess_mode="livesum",
)
POOL_TIMEOUTS = Counter(
    "medconsult_db_pool_timeouts_total",
    "Requests answered 503 because no database connection was free in time.",
)
REQUESTS_REFUSED_BUSY = Counter(
    "medconsult_requests_refused_busy_total",
    "Requests answered 503 because the server was handling as many as it admits at once.",
)


class PoolCollector(Collector):
    """Connections of the engine's pool: in use, idle, overflow, and the configured size."""

    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self._engine().pool
        family = GaugeMetricFamily(
            "medconsult_db_pool_connections", "Database connections by state.", labels=["state"]
        )
        for state, reader in (
            ("in_use", "checkedout"),
            ("idle", "checkedin"),
            ("overflow", "overflow"),
            ("size", "size"),
        ):
            method = getattr(pool, reader, None)
            if callable(method):
                family.add_metric([state], float(method()))
        yield family


class QueueCollector(Collector):
    """The analysis queue as the database sees it: jobs waiting and the oldest one's age."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("medconsult_analysis_queue_depth", "Analysis jobs waiting.")
        age = GaugeMetricFamily(
            "medconsult_analysis_queue_oldest_age_seconds",
            "Age of the oldest waiting analysis job (0 when none waits).",
        )
        try:
            with self._sessions() as session:
                row = session.execute(
                    text(
                        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)"
                        " FROM analysis_jobs WHERE status = 'queued'"
                    )
                ).one()
                session.rollback()
        except Exception:  # a scrape must never fail because the database is busy
            log.warning("could not read the analysis queue for metrics", exc_info=True)
            return
        depth.add_metric([], float(row[0]))
        age.add_metric([], float(row[1]))
        yield depth
        yield age


_registered: dict[str, Collector] = {}


def register_collectors(*, engine: Callable[[], Engine], sessions: Callable[[], Session]) -> None:
    """Register the scrape-time collectors once per process (the latest app's sources win)."""
    for name, collector in (("pool", PoolCollector(engine)), ("queue", QueueCollector(sessions))):
        previous = _registered.pop(name, None)
        if previous is not None:
            REGISTRY.unregister(previous)
        REGISTRY.register(collector)
        _registered[name] = collector


def scrape_registry() -> CollectorRegistry:
    """What ``/metrics`` serves: this process's registry, or, in multi-process mode, every
    process's samples from the shared directory plus this process's scrape-time collectors."""
    if not os.environ.get(METRICS_MULTIPROCESS_DIR_ENV):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    for collector in _registered.values():
        registry.register(collector)
    return registry
