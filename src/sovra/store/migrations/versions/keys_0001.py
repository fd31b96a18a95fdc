"""Keys: ceremony record, keyrings, wrapped KEK versions, wrapped DEKs."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "keys_0001"
down_revision = "root"
branch_labels = ("keys",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keys_ceremony",
        sa.Column("slot", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ceremony_id", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("share_count", sa.Integer, nullable=False),
        sa.Column("fingerprints", sa.Text, nullable=False),
        sa.Column("verifier", sa.LargeBinary, nullable=False),
        sa.Column("hsm_config", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "keys_keyrings",
        sa.Column("keyring_id", sa.String(256), primary_key=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("min_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("destroyed_at", sa.Float, nullable=True),
    )
    op.create_table(
        "keys_kek_versions",
        sa.Column("keyring_id", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("wrapped_kek", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("retired_at", sa.Float, nullable=True),
    )
    op.create_table(
        "keys_deks",
        sa.Column("dek_id", sa.String(32), primary_key=True),
        sa.Column("keyring_id", sa.String(256), nullable=False),
        sa.Column("object_id", sa.String(512), nullable=False),
        sa.Column("kek_version", sa.Integer, nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_keys_deks_keyring_version", "keys_deks", ["keyring_id", "kek_version"])
    op.create_index("ix_keys_deks_keyring_object", "keys_deks", ["keyring_id", "object_id"])


def downgrade() -> None:
    op.drop_table("keys_deks")
    op.drop_table("keys_kek_versions")
    op.drop_table("keys_keyrings")
    op.drop_table("keys_ceremony")
