"""Analytics tables: exports through the outbound diode, and the approvals given them.

The redacted files and the unredacted view a reviewer compares them with are one
ciphertext (``payload``) under the export's own keyring, destroyed once the bundle is
released; the listing holds names, sizes, hashes and finding counts, never values.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from sovra.store.tables import metadata

analytics_exports = Table(
    "analytics_exports",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("requester", String(128), nullable=False, index=True),
    Column("state", String(16), nullable=False),  # pending, released
    Column("classification", Integer, nullable=False),
    Column("listing", Text, nullable=False),  # JSON: names, sizes, hashes, counts
    Column("payload", LargeBinary, nullable=True),  # encrypted; NULL once released
    Column("created_at", Float, nullable=False),
    Column("released_at", Float, nullable=True),
    Column("bundle_sha256", String(64), nullable=True),
)

analytics_export_approvals = Table(
    "analytics_export_approvals",
    metadata,
    Column("export_id", String(40), ForeignKey("analytics_exports.id"), nullable=False),
    Column("approver", String(128), nullable=False),
    Column("at", Float, nullable=False),
    UniqueConstraint("export_id", "approver", name="uq_analytics_export_approvals_voter"),
)

__all__ = ["analytics_export_approvals", "analytics_exports"]
