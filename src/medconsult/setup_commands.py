"""``medconsult bootstrap``: everything a fresh install needs before ``serve``.

Migrates the database, creates the first admin when there is none (printing how to sign in),
optionally seeds demo accounts, and trains the default model when no artifact exists yet.
"""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Sequence

from medconsult.accounts.models import Role

DEFAULT_ADMIN_EMAIL = "admin@example.org"
DEMO_ACCOUNTS: Sequence[tuple[Role, str, str]] = (
    (Role.doctor, "doctor@example.org", "Dr Demo Doctor"),
    (Role.patient, "patient@example.org", "Pat Demo"),
)


def _generated_password() -> str:
    return secrets.token_urlsafe(12)


def ensure_first_admin(email: str) -> tuple[str, str] | None:
    """Create an admin when none is active; returns (email, password) if one was created."""
    from medconsult.accounts import service as accounts_service
    from medconsult.config import get_settings
    from medconsult.db import session_factory

    with session_factory()() as session, session.begin():
        if accounts_service.admin_exists(session):
            return None
        configured = get_settings().admin_password
        password = configured.get_secret_value() if configured else _generated_password()
        accounts_service.create_user(
            session,
            actor=None,
            email=email,
            role=Role.admin,
            full_name="Administrator",
            password=password,
        )
        return email, password


def ensure_demo_accounts() -> list[tuple[str, str, str]]:
    """Seed a demo doctor and patient (skipped when they exist); returns created credentials."""
    from medconsult.accounts import service as accounts_service
    from medconsult.db import session_factory

    created = []
    with session_factory()() as session, session.begin():
        for role, email, name in DEMO_ACCOUNTS:
            if accounts_service.get_user_by_email(session, email) is not None:
                continue
            password = _generated_password()
            accounts_service.create_user(
                session, actor=None, email=email, role=role, full_name=name, password=password
            )
            created.append((str(role), email, password))
    return created


def ensure_model() -> str:
    """Train the default model when no complete artifact exists; returns its directory."""
    from medconsult.config import get_settings
    from medconsult.ml import artifacts

    settings = get_settings()
    existing = artifacts.resolve_default_model_dir(settings)
    if existing is not None:
        return str(existing)
    from medconsult.ml import train
    from medconsult.ml.options import CROSS_VALIDATION_REPORT

    print(
        "No trained model found: training the default model on every row of Symptom2Disease "
        "and DDXPlus, calibrated by its cross-validation (about 20 minutes on a 2-core CPU "
        "with native bf16, 45 without)..."
    )
    status = train.main(["--calibration-from", str(CROSS_VALIDATION_REPORT)])
    if status != 0:
        raise SystemExit(status)
    trained = artifacts.resolve_default_model_dir(settings)
    if trained is None:
        raise SystemExit("Training finished but no model artifact was found.")
    return str(trained)


def _bootstrap(args: argparse.Namespace) -> int:
    from medconsult.db import database_url, run_migrations

    database_url()  # starts the embedded PostgreSQL when no server is configured
    run_migrations()
    print("Database schema is up to date.")
    admin = ensure_first_admin(args.admin_email)
    if admin:
        print(
            "Created the first admin account.\n"
            f"  Sign in as: {admin[0]}\n"
            f"  Password:   {admin[1]}\n"
            "  (shown once; change it under Account after signing in)"
        )
    if args.demo:
        for role, email, password in ensure_demo_accounts():
            print(f"Demo {role}: {email} / {password}")
    if not args.skip_model:
        print(f"Model: {ensure_model()}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bootstrap", help="migrate, create the first admin, train the default model if missing"
    )
    parser.add_argument("--demo", action="store_true", help="also seed a demo doctor and patient")
    parser.add_argument("--admin-email", default=DEFAULT_ADMIN_EMAIL)
    parser.add_argument("--skip-model", action="store_true", help="do not train a missing model")
    parser.set_defaults(func=_bootstrap)
