"""AI: quota usage shared by the processes of a cluster (issue 22, ADR 2203).

One row per principal: what every process together admitted and used, as cumulative
counters; each process reads the others' increments (``sovra.ai.shared_quota``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ai_0002"
down_revision = "ai_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_quota_usage",
        sa.Column("principal_id", sa.String(256), primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("tokens", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ai_quota_usage_updated", "ai_quota_usage", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ai_quota_usage_updated", "ai_quota_usage")
    op.drop_table("ai_quota_usage")
