"""intake interviews: a consultation's structured answers to the DDXPlus questionnaire

Revision ID: 0009_interview
Revises: 0004_ood
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_interview"
down_revision: str | None = "0004_ood"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = postgresql.ENUM("in_progress", "finished", name="interview_status", create_type=False)


def upgrade() -> None:
    STATUS.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "intake_interviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("consultation_id", sa.Uuid(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column(
            "answers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("pending_question", sa.String(length=20), nullable=True),
        sa.Column("prior", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prior_source", sa.String(length=20), nullable=False),
        sa.Column("max_questions", sa.Integer(), nullable=False),
        sa.Column(
            "differential",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("stop_reason", sa.String(length=20), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_intake_interviews_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_interviews")),
        sa.UniqueConstraint("consultation_id", name=op.f("uq_intake_interviews_consultation_id")),
    )


def downgrade() -> None:
    op.drop_table("intake_interviews")
    STATUS.drop(op.get_bind(), checkfirst=True)
