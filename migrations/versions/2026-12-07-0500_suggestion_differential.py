"""ai_suggestions: the differential

A suggestion stores the differential in the DDXPlus paper's sense (every condition the model's
differential rule keeps, each with its calibrated probability and its default urgency) beside
the five most probable labels. Rows stored before it get an empty list.

Revision ID: 0013_suggestion_differential
Revises: 0012_queue_order
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_suggestion_differential"
down_revision: str | None = "0012_queue_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ai_suggestions",
        sa.Column(
            "differential",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("ai_suggestions", "differential")
