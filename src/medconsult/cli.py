"""The ``medconsult`` command: serve, migrate, create-user, and the model and worker commands."""

from __future__ import annotations

import argparse
import atexit
import getpass
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence

from medconsult.accounts.models import Role
from medconsult.db import run_migrations

Handler = Callable[[argparse.Namespace], int]


def _migrate(args: argparse.Namespace) -> int:
    run_migrations()
    print("Database schema is up to date.")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Repeat password: ")
    if first != second:
        raise SystemExit("Passwords do not match.")
    return first


def _create_user(args: argparse.Namespace) -> int:
    from medconsult.accounts import service as accounts_service
    from medconsult.db import session_factory
    from medconsult.errors import ValidationFailed

    password = _read_password(args)
    with session_factory()() as session, session.begin():
        try:
            user, _ = accounts_service.create_user(
                session,
                actor=None,
                email=args.email,
                role=Role(args.role),
                full_name=args.name or "",
                password=password,
            )
        except ValidationFailed as exc:
            for field, message in exc.errors.items():
                print(f"{field}: {message}", file=sys.stderr)
            return 2
        print(f"Created {user.role} account {user.email}.")
    return 0


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from medconsult import logs
    from medconsult.config import METRICS_MULTIPROCESS_DIR_ENV, get_settings
    from medconsult.db import database_url

    settings = get_settings()
    if (
        settings.run_worker_in_serve
        and settings.serve_worker_mode == "process"
        and not os.environ.get(METRICS_MULTIPROCESS_DIR_ENV)
    ):
        # The worker's process writes its metrics where /metrics reads them. Set before anything
        # imports prometheus_client, which picks its storage at import time.
        metrics_dir = tempfile.mkdtemp(prefix="medconsult-metrics-")
        os.environ[METRICS_MULTIPROCESS_DIR_ENV] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
    # The app's own messages (model loaded and its precision, recovery sweeps) at INFO; other
    # libraries only when they warn. uvicorn configures its own loggers.
    logs.configure(settings)
    # Start the embedded database (if configured) before the server so its URL is stable.
    database_url(settings)
    if not args.no_migrate:
        run_migrations()
    # After a graceful shutdown uvicorn re-raises the signal it caught; with the default
    # handlers that kills the process before atexit runs, leaving the embedded PostgreSQL up.
    # Exiting normally instead lets it stop its server.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_quietly)
    host = args.host or settings.host
    port = args.port or settings.port
    host_for_url = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
    print(f"MedConsult is running at http://{host_for_url}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(
        "medconsult.main:create_app",
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        log_level="info",
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medconsult", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server (and, by default, an analysis worker)")
    serve.add_argument("--host", default=None, help="default: MEDCONSULT_HOST, else 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: MEDCONSULT_PORT, else 8000")
    serve.add_argument("--no-migrate", action="store_true", help="skip alembic upgrade head")
    serve.set_defaults(func=_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    migrate.set_defaults(func=_migrate)

    create = sub.add_parser("create-user", help="create an account (the first admin, say)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.admin.value)
    create.add_argument("--name", default="")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(func=_create_user)

    for register in _command_plugins():
        register(sub)
    return parser


def _command_plugins() -> list[
    Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]
]:
    """Domain commands; each module adds its own subcommands without importing heavy libraries."""
    from medconsult import setup_commands
    from medconsult.audit import commands as audit_commands
    from medconsult.interview import commands as interview_commands
    from medconsult.jobs import commands as jobs_commands
    from medconsult.ml import commands as ml_commands
    from medconsult.triage import commands as triage_commands

    return [
        ml_commands.register,
        setup_commands.register,
        jobs_commands.register,
        audit_commands.register,
        triage_commands.register,
        interview_commands.register,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
