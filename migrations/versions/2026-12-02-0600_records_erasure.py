"""records: when a patient's account was erased

An erased account keeps its row (signed consultations still reference it) with every
identifier removed; ``erased_at`` marks it, and the worker purges what is left once the
retention period has passed.

Revision ID: 0006_records
Revises: 0007_mfa
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_records"
down_revision: str | None = "0007_mfa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_users_erased_at",
        "users",
        ["erased_at"],
        unique=False,
        postgresql_where=sa.text("erased_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_users_erased_at", table_name="users")
    op.drop_column("users", "erased_at")
