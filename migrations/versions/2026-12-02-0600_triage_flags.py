"""red-flag triage stored on the consultation

The rules layer runs when a consultation is stored, before any model: its flags (and the
semantic layer's, added by the analysis worker) live on the consultation itself so that the
patient's emergency advice and the doctors' queue never depend on an AI suggestion.

Revision ID: 0003_triage
Revises: 0006_records
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_triage"
down_revision: str | None = "0006_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "consultations",
        sa.Column(
            "red_flags",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )
    op.add_column(
        "consultations", sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("consultations", "triaged_at")
    op.drop_column("consultations", "red_flags")
