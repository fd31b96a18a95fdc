"""Policy: versioned policy sets with proposal, approval and diff hash."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "policy_0001"
down_revision = "root"
branch_labels = ("policy",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("diff_sha256", sa.String(64), nullable=False),
        sa.Column("base_version", sa.Integer, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("proposed_by", sa.String(128), nullable=False),
        sa.Column("proposed_at", sa.Float, nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=True),
        sa.Column("approved_at", sa.Float, nullable=True),
    )
    op.create_index("ix_policy_versions_status", "policy_versions", ["status"])


def downgrade() -> None:
    op.drop_table("policy_versions")

