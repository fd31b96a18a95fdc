"""Analytics: exports through the outbound diode and their approvals."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "analytics_0001"
down_revision = "root"
branch_labels = ("analytics",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_exports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("requester", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("classification", sa.Integer, nullable=False),
        sa.Column("listing", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("released_at", sa.Float, nullable=True),
        sa.Column("bundle_sha256", sa.String(64), nullable=True),
    )
    op.create_index("ix_analytics_exports_requester", "analytics_exports", ["requester"])
    op.create_table(
        "analytics_export_approvals",
        sa.Column("export_id", sa.String(40),
                  sa.ForeignKey("analytics_exports.id",
                                name="fk_analytics_export_approvals_export_id_analytics_exports"),
                  nullable=False),
        sa.Column("approver", sa.String(128), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.UniqueConstraint("export_id", "approver",
                            name="uq_analytics_export_approvals_voter"),
    )


def downgrade() -> None:
    op.drop_table("analytics_export_approvals")
    op.drop_table("analytics_exports")
