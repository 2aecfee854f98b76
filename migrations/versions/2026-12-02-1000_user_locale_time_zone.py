"""users' language and time zone preferences

``locale``: a supported locale (``en``, ``zh_CN``), null when the user has not chosen (the
browser's ``Accept-Language`` decides); ``time_zone``: an IANA time zone name, null for the
site's default (``MEDCONSULT_DEFAULT_TIME_ZONE``). Stored times stay UTC.

Revision ID: 0008_user_locale
Revises: 0009_interview
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_user_locale"
down_revision: str | None = "0009_interview"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("locale", sa.String(length=16), nullable=True))
    op.add_column("users", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "time_zone")
    op.drop_column("users", "locale")
