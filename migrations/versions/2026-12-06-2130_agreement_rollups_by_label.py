"""monitoring: a day's agreement roll-up by label and by model version, not by both

``monitoring_daily_agreement`` held a row per day, label and model version: the product of the
two, which a year's monitoring page had to sum (about 190 rows a day at 70 labels and three
versions). It now holds the two groupings of a day's reviews separately (``by_label``): one row
per label, one per version; each sums to the day's total, so the page reads labels from the
first and weeks, versions and the total from the second.

The old rows are the finer partition, so the upgrade sums them into the new ones in place. The
downgrade cannot split them back: it drops them and logs every rolled-up day as changed, so the
pages compute those days live until the next sweep rolls them up again.

Revision ID: 0011_agreement_by_label
Revises: 0010_rollups
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_agreement_by_label"
down_revision: str | None = "0010_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUMS = "sum(reviewed), sum(top1), sum(top3)"


def upgrade() -> None:
    op.add_column("monitoring_daily_agreement", sa.Column("by_label", sa.Boolean(), nullable=True))
    op.execute(
        f"""
        INSERT INTO monitoring_daily_agreement
            (day, by_label, final_label, model_version, reviewed, top1, top3)
        SELECT day, true, final_label, NULL, {_SUMS}
        FROM monitoring_daily_agreement WHERE by_label IS NULL GROUP BY day, final_label
        UNION ALL
        SELECT day, false, NULL, model_version, {_SUMS}
        FROM monitoring_daily_agreement WHERE by_label IS NULL GROUP BY day, model_version
        """
    )
    op.execute("DELETE FROM monitoring_daily_agreement WHERE by_label IS NULL")
    op.alter_column("monitoring_daily_agreement", "by_label", nullable=False)


def downgrade() -> None:
    op.execute("INSERT INTO monitoring_dirty_days (day) SELECT day FROM monitoring_daily")
    op.execute("DELETE FROM monitoring_daily_agreement")
    op.drop_column("monitoring_daily_agreement", "by_label")
