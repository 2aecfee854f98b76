"""Shared fixtures: one migrated database per test process, a rolled-back transaction per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from tests import db_setup

# Never reach a model hub from any test.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDCONSULT_ENV", "testing")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with db_setup.fresh_database() as url:
        # Settings, Alembic and any subprocess a test starts all see this database.
        os.environ["MEDCONSULT_DATABASE_URL"] = url
        from medconsult.config import get_settings

        get_settings.cache_clear()
        from medconsult.cli import run_migrations

        run_migrations(url)
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, pool_pre_ping=True)
    from medconsult import db

    db.set_engine(engine)
    yield engine
    db.set_engine(None)
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        yield session
        session.close()
        transaction.rollback()


@pytest.fixture
def app(session: Session, engine: Engine) -> Iterator[object]:
    from medconsult.db import get_session
    from medconsult.main import create_app

    application = create_app(factory=sessionmaker(bind=engine))
    application.dependency_overrides[get_session] = lambda: session
    yield application


@pytest.fixture
def client(app: object) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:  # type: ignore[arg-type]
        yield test_client
