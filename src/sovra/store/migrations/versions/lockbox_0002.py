"""Lockbox: the ledger sequence number of each request's first entry (report scan start)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lockbox_0002"
down_revision = "lockbox_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lockbox_requests", sa.Column("ledger_seq", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lockbox_requests") as batch:
        batch.drop_column("ledger_seq")
