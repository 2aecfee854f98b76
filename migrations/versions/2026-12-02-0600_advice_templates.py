"""advice templates on doctor reviews

A signed review records which advice library entry (label and version) was offered as the
advice draft, and whether the doctor signed it unchanged, edited it or discarded it.

Revision ID: 0005_advice
Revises: 0008_audit_seal
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_advice"
down_revision: str | None = "0008_audit_seal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOME = sa.Enum("used", "edited", "discarded", name="advice_template_outcome")


def upgrade() -> None:
    OUTCOME.create(op.get_bind(), checkfirst=False)
    op.add_column(
        "doctor_reviews", sa.Column("advice_template_label", sa.String(length=100), nullable=True)
    )
    op.add_column(
        "doctor_reviews", sa.Column("advice_template_version", sa.Integer(), nullable=True)
    )
    op.add_column("doctor_reviews", sa.Column("advice_template_outcome", OUTCOME, nullable=True))


def downgrade() -> None:
    op.drop_column("doctor_reviews", "advice_template_outcome")
    op.drop_column("doctor_reviews", "advice_template_version")
    op.drop_column("doctor_reviews", "advice_template_label")
    OUTCOME.drop(op.get_bind(), checkfirst=False)
