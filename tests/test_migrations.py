"""Alembic: the schema is created from empty, removed down to base, and created again."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from medconsult.db import run_migrations
from tests import db_setup


def _config(url: str) -> Config:
    config = Config("alembic.ini")
    config.attributes["url"] = url
    return config


class TestMigrations:
    def test_up_down_up(self) -> None:
        with db_setup.fresh_database(prefix="medconsult_migr") as url:
            engine = create_engine(url)

            run_migrations(url)
            tables_after_up = set(inspect(engine).get_table_names())
            command.downgrade(_config(url), "base")
            tables_after_down = set(inspect(engine).get_table_names())
            run_migrations(url)
            tables_after_second_up = set(inspect(engine).get_table_names())
            engine.dispose()

        assert {"users", "consultations", "audit_events", "procrastinate_jobs"} <= tables_after_up
        assert tables_after_down <= {"alembic_version"}
        assert tables_after_second_up == tables_after_up

    def test_models_match_migrations(self, engine: object) -> None:
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        import medconsult.models  # noqa: F401
        from medconsult.db import Base

        with engine.connect() as connection:  # type: ignore[attr-defined]
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, reflected, other: (
                        not (name or "").startswith("procrastinate")
                    ),
                },
            )
            diff = compare_metadata(context, Base.metadata)

        assert diff == []
