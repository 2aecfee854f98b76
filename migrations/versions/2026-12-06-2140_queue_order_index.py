"""consultations: the whole queue in display order

The queue's "all statuses" tab reads its page in display order (urgency, then the longest
waiting) over every consultation; without an index in that order each request sorted the
whole table (on disk at 100k consultations, over 100 ms). The open queue keeps its smaller
partial index (``0010_rollups``).

Revision ID: 0012_queue_order
Revises: 0011_agreement_by_label
Create Date: 2026-12-06 21:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_queue_order"
down_revision: str | None = "0011_agreement_by_label"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_consultations_queue_order", "consultations", ["urgency_rank", "submitted_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_consultations_queue_order", table_name="consultations")
