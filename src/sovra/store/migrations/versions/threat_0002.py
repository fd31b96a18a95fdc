"""Threat: request metadata for indicators (user agent, domain), and base-rule matches
kept per pass so correlations read them instead of re-running their base rules."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "threat_0002"
down_revision = "threat_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("threat_events", sa.Column("user_agent", sa.String(256), nullable=True))
    op.add_column("threat_events", sa.Column("domain", sa.String(253), nullable=True))
    op.create_table(
        "threat_rule_matches",
        sa.Column("rule_key", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.Float, nullable=False),
    )
    op.create_index("ix_threat_rule_matches_seq", "threat_rule_matches", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_threat_rule_matches_seq", "threat_rule_matches")
    op.drop_table("threat_rule_matches")
    with op.batch_alter_table("threat_events") as batch:
        batch.drop_column("domain")
        batch.drop_column("user_agent")
