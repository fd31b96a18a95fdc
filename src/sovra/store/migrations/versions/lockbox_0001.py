"""Lockbox: access requests with their grants, and the votes cast on them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lockbox_0001"
down_revision = "root"
branch_labels = ("lockbox",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lockbox_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("requester", sa.String(128), nullable=False),
        sa.Column("jurisdiction", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(128), nullable=False),
        sa.Column("actions", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ticket", sa.String(128), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("single_use", sa.Boolean, nullable=False),
        sa.Column("breakglass", sa.Boolean, nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("destructive", sa.Boolean, nullable=False),
        sa.Column("required", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("request_expires_at", sa.Float, nullable=False),
        sa.Column("last_event_at", sa.Float, nullable=False),
        sa.Column("granted_at", sa.Float, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("ended_by", sa.String(128), nullable=True),
        sa.Column("end_reason", sa.Text, nullable=False),
        sa.Column("first_used_at", sa.Float, nullable=True),
        sa.Column("review_due", sa.Float, nullable=True),
    )
    op.create_index("ix_lockbox_requests_requester", "lockbox_requests", ["requester"])
    op.create_index("ix_lockbox_requests_status", "lockbox_requests", ["status"])
    op.create_index("ix_lockbox_requests_created_at", "lockbox_requests", ["created_at"])
    op.create_table(
        "lockbox_votes",
        sa.Column("request_id", sa.String(40),
                  sa.ForeignKey("lockbox_requests.id",
                                name="fk_lockbox_votes_request_id_lockbox_requests"),
                  nullable=False),
        sa.Column("voter", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("jurisdiction", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.UniqueConstraint("request_id", "voter", name="uq_lockbox_votes_request_voter"),
    )
    op.create_index("ix_lockbox_votes_request_id", "lockbox_votes", ["request_id"])


def downgrade() -> None:
    op.drop_table("lockbox_votes")
    op.drop_table("lockbox_requests")
