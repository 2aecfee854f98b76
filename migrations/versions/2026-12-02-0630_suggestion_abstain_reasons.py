"""why an AI suggestion abstained, and its out-of-distribution score

``abstain_reasons``: ``low_confidence`` and/or ``out_of_distribution`` (empty when it did not
abstain, and for suggestions stored before this revision); ``ood_score``: the model's
out-of-distribution score, null where the model had no OOD check.

Revision ID: 0004_ood
Revises: 0003_triage
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_ood"
down_revision: str | None = "0003_triage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ai_suggestions",
        sa.Column(
            "abstain_reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column("ai_suggestions", sa.Column("ood_score", sa.Float(), nullable=True))
    # Suggestions stored before this revision abstained on low confidence only.
    op.execute(
        "UPDATE ai_suggestions SET abstain_reasons = '[\"low_confidence\"]'::jsonb WHERE abstained"
    )


def downgrade() -> None:
    op.drop_column("ai_suggestions", "ood_score")
    op.drop_column("ai_suggestions", "abstain_reasons")
