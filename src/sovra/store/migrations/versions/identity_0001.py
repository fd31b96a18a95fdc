"""Identity: principals, group membership, API keys."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = "root"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_principals",
        sa.Column("principal_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("clearance", sa.String(16), nullable=False),
        sa.Column("org_unit", sa.String(128), nullable=False),
        sa.Column("jurisdiction", sa.String(64), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "identity_group_members",
        sa.Column("group_id", sa.String(128),
                  sa.ForeignKey("identity_principals.principal_id",
                                name="fk_identity_group_members_group_id_identity_principals"),
                  primary_key=True),
        sa.Column("member_id", sa.String(128),
                  sa.ForeignKey("identity_principals.principal_id",
                                name="fk_identity_group_members_member_id_identity_principals"),
                  primary_key=True),
    )
    op.create_index("ix_identity_group_members_member_id", "identity_group_members",
                    ["member_id"])
    op.create_table(
        "identity_api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("principal_id", sa.String(128),
                  sa.ForeignKey("identity_principals.principal_id",
                                name="fk_identity_api_keys_principal_id_identity_principals"),
                  nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("scope", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_index("ix_identity_api_keys_principal_id", "identity_api_keys",
                    ["principal_id"])


def downgrade() -> None:
    op.drop_table("identity_api_keys")
    op.drop_table("identity_group_members")
    op.drop_table("identity_principals")
