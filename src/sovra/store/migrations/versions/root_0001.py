"""The common root every room's migration branch starts from."""

from __future__ import annotations

revision = "root"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
