"""Lockbox: supervised grants (refused while no approver watches)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lockbox_0003"
down_revision = "lockbox_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lockbox_requests", sa.Column("supervised", sa.Boolean, nullable=False,
                                                server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("lockbox_requests") as batch:
        batch.drop_column("supervised")
