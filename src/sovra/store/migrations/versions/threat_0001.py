"""Threat: security events, alerts and the events that raised them, cursors, quarantine."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "threat_0001"
down_revision = "root"
branch_labels = ("threat",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "threat_events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("timestamp", sa.String(32), nullable=False),
        sa.Column("principal", sa.String(256), nullable=False),
        sa.Column("role", sa.String(256), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("resource", sa.String(512), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("source_ip", sa.String(64), nullable=True),
        sa.Column("classification", sa.String(16), nullable=True),
        sa.Column("model", sa.String(256), nullable=True),
        sa.Column("credential", sa.String(64), nullable=True),
        sa.Column("documents", sa.Integer, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("grant_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_threat_events_action_seq", "threat_events", ["action", "seq"])
    op.create_index("ix_threat_events_principal_ts", "threat_events", ["principal", "ts"])
    op.create_index("ix_threat_events_ts", "threat_events", ["ts"])
    op.create_table(
        "threat_cursors",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "threat_alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule_id", sa.String(300), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("dedup_key", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(256), nullable=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("detail_json", sa.Text, nullable=False),
        sa.Column("close_reason", sa.Text, nullable=True),
        sa.Column("incident_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_threat_alerts_dedup_key", "threat_alerts", ["dedup_key"])
    op.create_index("ix_threat_alerts_status", "threat_alerts", ["status"])
    op.create_table(
        "threat_alert_events",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    )
    op.create_table(
        "threat_quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("origin", sa.String(512), nullable=False),
        sa.Column("principal", sa.String(256), nullable=False),
        sa.Column("matches_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_threat_quarantine_sha256", "threat_quarantine", ["sha256"])


def downgrade() -> None:
    for table in ("threat_quarantine", "threat_alert_events", "threat_alerts",
                  "threat_cursors", "threat_events"):
        op.drop_table(table)
