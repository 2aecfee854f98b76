"""``medconsult worker``: run the analysis worker as its own process (on a GPU machine, say)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    worker = subparsers.add_parser(
        "worker",
        help="run an analysis worker (inference) against the shared database",
        description=(
            "Run an analysis worker. Any number of workers on any machines may share one "
            "database; each job is processed by exactly one of them."
        ),
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="analyses in flight, sharing one model (default: MEDCONSULT_WORKER_CONCURRENCY)",
    )
    worker.add_argument(
        "--heartbeat-seconds",
        type=float,
        default=None,
        help="how often this worker heartbeats (default: MEDCONSULT_WORKER_HEARTBEAT_SECONDS)",
    )
    worker.add_argument(
        "--stalled-seconds",
        type=float,
        default=None,
        help=(
            "a job whose worker has not heartbeat for this long is retried (the job's lease; "
            "default: MEDCONSULT_WORKER_STALLED_SECONDS)"
        ),
    )
    worker.add_argument(
        "--sweep-seconds",
        type=float,
        default=None,
        help="how often the recovery sweep runs (default: MEDCONSULT_WORKER_SWEEP_SECONDS)",
    )
    worker.add_argument("--name", default="medconsult-worker", help="name shown in the logs")
    worker.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one is gone (the server's own worker)",
    )
    worker.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from medconsult import logs
    from medconsult.config import get_settings
    from medconsult.jobs.worker import WorkerOptions, exit_with_parent, run_worker

    settings = get_settings()
    concurrency = settings.worker_concurrency if args.concurrency is None else args.concurrency
    if concurrency < 1:
        raise SystemExit("--concurrency must be at least 1")
    # The job engine's own lines (job started, retried, finished) belong in a worker's log.
    logs.configure(settings, info_loggers=("medconsult", "procrastinate"))
    options = WorkerOptions.from_settings(
        settings,
        concurrency=concurrency,
        heartbeat_seconds=args.heartbeat_seconds,
        stalled_seconds=args.stalled_seconds,
        sweep_seconds=args.sweep_seconds,
        name=args.name,
    )
    if args.exit_with_parent:
        exit_with_parent()
    asyncio.run(run_worker(options))
    return 0
