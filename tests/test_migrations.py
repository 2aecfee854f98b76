"""Alembic: the schema is created from empty, removed down to base, and created again."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

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

    def test_agreement_rollups_are_regrouped_by_label_and_by_version(self) -> None:
        with db_setup.fresh_database(prefix="medconsult_migr") as url:
            engine = create_engine(url)
            command.upgrade(_config(url), "0010_rollups")
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO monitoring_daily (day, suggestions, abstained, emergencies, "
                        "computed_at) VALUES ('2026-11-01', 0, 0, 0, now())"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO monitoring_daily_agreement "
                        "(day, final_label, model_version, reviewed, top1, top3) VALUES "
                        "('2026-11-01', 'acne', 'v1', 3, 2, 3), "
                        "('2026-11-01', 'acne', 'v2', 1, 0, 1), "
                        "('2026-11-01', NULL, 'v1', 2, 0, 0), "
                        "('2026-11-02', 'acne', 'v1', 5, 5, 5)"
                    )
                )
            command.upgrade(_config(url), "head")
            with engine.connect() as conn:
                regrouped = conn.execute(
                    text(
                        "SELECT day::text, by_label, final_label, model_version, reviewed, top1, "
                        "top3 FROM monitoring_daily_agreement"
                    )
                ).all()
            command.downgrade(_config(url), "0010_rollups")
            with engine.connect() as conn:
                left = conn.scalar(text("SELECT count(*) FROM monitoring_daily_agreement"))
                dirty = conn.scalars(text("SELECT day::text FROM monitoring_dirty_days")).all()
            engine.dispose()

        assert sorted(map(tuple, regrouped), key=str) == sorted(
            [
                ("2026-11-01", True, "acne", None, 4, 2, 4),
                ("2026-11-01", True, None, None, 2, 0, 0),
                ("2026-11-01", False, None, "v1", 5, 2, 3),
                ("2026-11-01", False, None, "v2", 1, 0, 1),
                ("2026-11-02", True, "acne", None, 5, 5, 5),
                ("2026-11-02", False, None, "v1", 5, 5, 5),
            ],
            key=str,
        )
        # Rows that cannot be split back are dropped, their days recomputed live until a sweep.
        assert left == 0
        assert dirty == ["2026-11-01"]

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
