"""Shared fixtures: one migrated database per test process, a rolled-back transaction per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from tests import db_setup

# Never reach a model hub from any test.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDCONSULT_ENV", "testing")
# Staff MFA is on by default outside development; the suite's doctors and admins sign in with
# a password only, and tests/accounts/test_mfa.py turns the requirement on where it tests it.
os.environ.setdefault("MEDCONSULT_REQUIRE_STAFF_MFA", "false")
# TestClient runs the app's lifespan for every test: no background worker there. The live
# server (browser tests) and the worker tests start one explicitly.
os.environ.setdefault("MEDCONSULT_RUN_WORKER_IN_SERVE", "false")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with db_setup.fresh_database() as url:
        # Settings, Alembic and any subprocess a test starts all see this database.
        os.environ["MEDCONSULT_DATABASE_URL"] = url
        from medconsult.config import get_settings

        get_settings.cache_clear()
        from medconsult.db import run_migrations

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
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection per test, inside an outer transaction that is always rolled back."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session_maker(connection: Connection) -> sessionmaker[Session]:
    """Sessions joined to the test's transaction: their commits and rollbacks really happen (as
    savepoints), and the outer rollback undoes everything at the end of the test."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_maker: sessionmaker[Session]) -> Iterator[Session]:
    with session_maker() as session:
        yield session


@pytest.fixture
def app(session_maker: sessionmaker[Session]) -> object:
    """The real app with its real request boundary (get_session commits or rolls back each
    request), its sessions joined to the test's transaction."""
    from medconsult.main import create_app

    return create_app(factory=session_maker)


@pytest.fixture
def client(app: object) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as test_client:  # type: ignore[arg-type]
        yield test_client


# --- Real browser against a live server --------------------------------------------------------

CHROMIUM = os.environ.get("MEDCONSULT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real classifier artifact (random BERT trained a few steps), built once a session."""
    from medconsult.ml.testing import build_tiny_artifact

    return build_tiny_artifact(tmp_path_factory.mktemp("models") / "tiny-test-model")


@pytest.fixture(scope="session")
def live_server(engine: Engine, tiny_model_dir: Path) -> Iterator[str]:
    """The real app (lifespan included) served by uvicorn on a free local port.

    It commits for real into this process's test database: browser tests use unique emails.
    Its in-process analysis worker loads the tiny test model.
    """
    os.environ["MEDCONSULT_MODEL_DIR"] = str(tiny_model_dir)
    from medconsult.config import get_settings

    get_settings.cache_clear()
    import socket
    import threading
    import time

    import uvicorn

    from medconsult.main import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(start_worker=True), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=45)
    os.environ.pop("MEDCONSULT_MODEL_DIR", None)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object, live_server: str) -> Iterator[object]:
    """A fresh browser context (no cookies) with its base URL at the live server."""
    context = browser.new_context(base_url=live_server)  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()
