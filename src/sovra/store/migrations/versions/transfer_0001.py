"""Transfer: pinned TUF trust state, imported bundles, activated targets."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "transfer_0001"
down_revision = "root"
branch_labels = ("transfer",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transfer_trust",
        sa.Column("role", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "transfer_bundles",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("importer", sa.String(256), nullable=False),
        sa.Column("approver", sa.String(256), nullable=True),
        sa.Column("imported_at", sa.Float, nullable=False),
        sa.Column("activated_at", sa.Float, nullable=True),
        sa.Column("built_at", sa.Float, nullable=True),
        sa.Column("root_version", sa.Integer, nullable=False),
        sa.Column("timestamp_version", sa.Integer, nullable=False),
        sa.Column("snapshot_version", sa.Integer, nullable=False),
        sa.Column("targets_version", sa.Integer, nullable=False),
        sa.Column("root_sha256", sa.String(64), nullable=False),
        sa.Column("timestamp_sha256", sa.String(64), nullable=False),
        sa.Column("snapshot_sha256", sa.String(64), nullable=False),
        sa.Column("targets_sha256", sa.String(64), nullable=False),
        sa.Column("grace_s", sa.Float, nullable=False),
        sa.Column("staging_path", sa.Text, nullable=True),
        sa.Column("metadata_json", sa.Text, nullable=False),
    )
    op.create_index("ix_transfer_bundles_status", "transfer_bundles", ["status"])
    op.create_table(
        "transfer_targets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bundle_id", sa.String(32), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("component", sa.String(256), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("stored_path", sa.Text, nullable=False),
        sa.Column("custom_json", sa.Text, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("activated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_transfer_targets_bundle_id", "transfer_targets", ["bundle_id"])
    op.create_index("ix_transfer_targets_kind", "transfer_targets", ["kind"])
    op.create_index("ix_transfer_targets_component", "transfer_targets", ["component"])


def downgrade() -> None:
    op.drop_table("transfer_targets")
    op.drop_table("transfer_bundles")
    op.drop_table("transfer_trust")
