"""Ledger: drop the action and actor indexes of ``ledger_entries``.

No query reads entries by action or actor (the ledger is read by sequence number: proofs,
export, the tail on start), yet each index cost every group commit one more B-tree page
written and synced (two more WAL frames on SQLite): about 50 µs of the ~200 µs a
single-entry commit takes on the project VM (docs/PERFORMANCE.md, "AI gateway", round 5).
A room that needs such lookups adds the index it needs in its own migration.
"""

from __future__ import annotations

from alembic import op

revision = "ledger_0002"
down_revision = "ledger_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_ledger_entries_action", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_actor", table_name="ledger_entries")


def downgrade() -> None:
    op.create_index("ix_ledger_entries_action", "ledger_entries", ["action"])
    op.create_index("ix_ledger_entries_actor", "ledger_entries", ["actor"])
