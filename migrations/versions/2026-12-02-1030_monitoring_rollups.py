"""daily monitoring roll-ups, the days they must be recomputed for, and the queue's indexes

Monitoring (``admin/monitoring.py``) sums per-day roll-ups for closed days and computes the
rest (the window's first, partial day, recent days, and days changed since their roll-up) from
the base tables, with the same SQL. The worker's sweep writes the roll-ups. A change to an
already closed day (a re-analysis replacing an old suggestion, an amendment of an old review, an
erasure) appends the day to ``monitoring_dirty_days`` from a statement-level trigger: an
append-only log with no unique key, so concurrent writers never wait on each other, and writes
for today (every new suggestion and review) append nothing.

Indexes: reviews by ``signed_at`` and by the review they amend, and the open queue in its
display order (the queue page reads its first rows without sorting every open case).

Revision ID: 0010_rollups
Revises: 0008_user_locale
Create Date: 2026-12-02 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_rollups"
down_revision: str | None = "0008_user_locale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUP_TABLES = (
    "monitoring_daily_histogram",
    "monitoring_daily_agreement",
    "monitoring_daily_advice",
    "monitoring_dirty_days",
)
_OPEN = "status IN ('submitted', 'analysing', 'awaiting_review', 'in_review')"

# A statement changed the figures of the days of its rows (``column``) and of every review of
# their consultations (which review is a case's latest, which suggestion it is compared with):
# log those before the transaction's own day.
_CHANGED_DAYS = """
        INSERT INTO monitoring_dirty_days (day)
        SELECT DISTINCT d FROM (
            SELECT (t.{column} AT TIME ZONE 'UTC')::date FROM {rows} t
            UNION
            SELECT (r.signed_at AT TIME ZONE 'UTC')::date
            FROM doctor_reviews r JOIN {rows} t ON r.consultation_id = t.consultation_id
        ) AS changed(d)
        WHERE d < (now() AT TIME ZONE 'UTC')::date;"""


def _changed_function(name: str, column: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN{_CHANGED_DAYS.format(column=column, rows="new_rows")}
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN{_CHANGED_DAYS.format(column=column, rows="old_rows")}
    END IF;
    RETURN NULL;
END $$;
"""


def _triggers(table: str, function: str) -> None:
    # A trigger with transition tables takes one event, so one trigger per event.
    for event, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER monitoring_{table}_{event.lower()} AFTER {event} ON {table} "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def upgrade() -> None:
    op.create_table(
        "monitoring_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("suggestions", sa.Integer(), nullable=False),
        sa.Column("abstained", sa.Integer(), nullable=False),
        sa.Column("emergencies", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_monitoring_daily")),
    )
    op.create_table(
        "monitoring_daily_histogram",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_daily_histogram")),
    )
    op.create_table(
        "monitoring_daily_agreement",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("final_label", sa.String(100), nullable=True),
        sa.Column("model_version", sa.String(200), nullable=True),
        sa.Column("reviewed", sa.Integer(), nullable=False),
        sa.Column("top1", sa.Integer(), nullable=False),
        sa.Column("top3", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_daily_agreement")),
    )
    op.create_table(
        "monitoring_daily_advice",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("edited", sa.Integer(), nullable=False),
        sa.Column("discarded", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_daily_advice")),
    )
    op.create_table(
        "monitoring_dirty_days",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_dirty_days")),
    )
    for table in ROLLUP_TABLES:
        op.create_index(op.f(f"ix_{table}_day"), table, ["day"])
    op.create_index("ix_doctor_reviews_signed_at", "doctor_reviews", ["signed_at"])
    op.create_index("ix_doctor_reviews_amends_id", "doctor_reviews", ["amends_id"])
    op.create_index(
        "ix_consultations_open_queue",
        "consultations",
        ["urgency_rank", "submitted_at", "id"],
        postgresql_where=sa.text(_OPEN),
    )
    op.execute(_changed_function("monitoring_suggestions_changed", "created_at"))
    op.execute(_changed_function("monitoring_reviews_changed", "signed_at"))
    _triggers("ai_suggestions", "monitoring_suggestions_changed")
    _triggers("doctor_reviews", "monitoring_reviews_changed")


def downgrade() -> None:
    for table in ("ai_suggestions", "doctor_reviews"):
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER monitoring_{table}_{event} ON {table}")
    op.execute("DROP FUNCTION monitoring_suggestions_changed()")
    op.execute("DROP FUNCTION monitoring_reviews_changed()")
    op.drop_index("ix_consultations_open_queue", table_name="consultations")
    op.drop_index("ix_doctor_reviews_amends_id", table_name="doctor_reviews")
    op.drop_index("ix_doctor_reviews_signed_at", table_name="doctor_reviews")
    for table in ROLLUP_TABLES:
        op.drop_index(op.f(f"ix_{table}_day"), table_name=table)
    for table in (*ROLLUP_TABLES, "monitoring_daily"):
        op.drop_table(table)
