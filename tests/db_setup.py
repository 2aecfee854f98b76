"""Test database lifecycle: a fresh database per test process, schema by Alembic."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from medconsult.db import embedded_database_url, to_sqlalchemy_url


def server_url() -> str:
    """The server tests run on: MEDCONSULT_TEST_DATABASE_URL, else an embedded PostgreSQL."""
    configured = os.environ.get("MEDCONSULT_TEST_DATABASE_URL")
    if configured:
        return to_sqlalchemy_url(configured)
    from pathlib import Path

    data_dir = Path(tempfile.gettempdir()) / f"medconsult-test-pg-{os.getuid()}"
    return embedded_database_url(data_dir)


@contextmanager
def fresh_database(prefix: str = "medconsult_test") -> Iterator[str]:
    """Create a uniquely named database on the test server; drop it afterwards."""
    base = make_url(server_url())
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
