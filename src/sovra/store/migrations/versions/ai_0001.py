"""AI gateway: model registry, request index, per-collection text-keeping policy."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ai_0001"
down_revision = "root"
branch_labels = ("ai",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_models",
        sa.Column("model_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("locality", sa.String(16), nullable=False),
        sa.Column("weights_path", sa.Text, nullable=True),
        sa.Column("upstream_url", sa.Text, nullable=True),
        sa.Column("upstream_model", sa.String(256), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("licence", sa.String(128), nullable=False),
        sa.Column("ceiling", sa.String(16), nullable=False),
        sa.Column("approved", sa.Boolean, nullable=False),
        sa.Column("registered_by", sa.String(256), nullable=False),
        sa.Column("approved_by", sa.String(256), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "ai_requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("request_seq", sa.BigInteger, nullable=True),
        sa.Column("outcome_seq", sa.BigInteger, nullable=True),
        sa.Column("principal_id", sa.String(256), nullable=False),
        sa.Column("model_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("prompt_ciphertext", sa.LargeBinary, nullable=True),
        sa.Column("answer_ciphertext", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_ai_requests_principal_id", "ai_requests", ["principal_id"])
    op.create_table(
        "ai_collection_policies",
        sa.Column("collection_id", sa.String(64), primary_key=True),
        sa.Column("keep_text", sa.Boolean, nullable=False),
        sa.Column("set_by", sa.String(256), nullable=False),
        sa.Column("set_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ai_collection_policies")
    op.drop_table("ai_requests")
    op.drop_table("ai_models")
