"""Real worker processes need committed rows: they get a database of their own.

Kept apart from the session's main test database so that the live server's in-process worker
(browser tests) can never take these jobs, and so these tests may commit freely.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from tests import db_setup


@pytest.fixture(scope="session")
def worker_database_url(database_url: str) -> Iterator[str]:
    from medconsult.db import run_migrations

    with db_setup.fresh_database(prefix="medconsult_workers") as url:
        run_migrations(url)
        yield url


@pytest.fixture(scope="session")
def worker_engine(worker_database_url: str) -> Iterator[Engine]:
    engine = create_engine(worker_database_url, pool_pre_ping=True)
    yield engine
    engine.dispose()
