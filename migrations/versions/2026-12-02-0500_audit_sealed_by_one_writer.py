"""audit events are appended without a lock and sealed into the chain by one writer

Requests used to take a global advisory lock to read the chain's last hash, which serialised
every request that recorded an event. Now an event is inserted unsealed (no prev_hash/hash)
and the sealer (the worker's sweep, ``medconsult audit verify``) links committed events onto
the chain and records their position. The append-only trigger allows exactly that one change:
sealing an unsealed event, nothing else.

Revision ID: 0008_audit_seal
Revises: 0002
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_audit_seal"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEAL_COLUMNS = "'chain_pos', 'prev_hash', 'hash'"


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("chain_pos", sa.BigInteger(), nullable=True))
    op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
    # Every existing event was chained in seq order under the old lock.
    op.execute("UPDATE audit_events SET chain_pos = seq")
    op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
    op.create_unique_constraint(op.f("uq_audit_events_chain_pos"), "audit_events", ["chain_pos"])
    op.alter_column("audit_events", "prev_hash", existing_type=sa.String(64), nullable=True)
    op.alter_column("audit_events", "hash", existing_type=sa.String(64), nullable=True)
    op.create_index(
        "ix_audit_events_unsealed",
        "audit_events",
        ["seq"],
        postgresql_where=sa.text("chain_pos IS NULL"),
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.chain_pos IS NULL AND NEW.chain_pos IS NOT NULL
               AND NEW.hash IS NOT NULL
               AND (to_jsonb(NEW) - ARRAY[{_SEAL_COLUMNS}])
                   = (to_jsonb(OLD) - ARRAY[{_SEAL_COLUMNS}]) THEN
                RETURN NEW;  -- sealing: the one change an event ever gets
            END IF;
            RAISE EXCEPTION 'audit_events is append-only';
        END;
        $$ LANGUAGE plpgsql;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only';
        END;
        $$ LANGUAGE plpgsql;
        """
    )
    op.drop_index("ix_audit_events_unsealed", table_name="audit_events")
    # Unsealed events cannot satisfy NOT NULL: the old schema had none.
    op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
    op.execute("DELETE FROM audit_events WHERE hash IS NULL")
    op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
    op.alter_column("audit_events", "hash", existing_type=sa.String(64), nullable=False)
    op.alter_column("audit_events", "prev_hash", existing_type=sa.String(64), nullable=False)
    op.drop_constraint(op.f("uq_audit_events_chain_pos"), "audit_events", type_="unique")
    op.drop_column("audit_events", "chain_pos")
