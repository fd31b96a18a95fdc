"""Transfer tables: the pinned trust state, imported bundles, activated targets.

``transfer_trust`` is the site's TUF client state (TUF §5.1-§5.6): the trusted root and
the highest version of each top-level role ever accepted, which is what rollback and
freeze protection compare against. ``transfer_targets`` is what other rooms consume
(the AI registry reads models from it through ``sovra.transfer.activated_models``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, LargeBinary, String, Table, Text

from sovra.store.tables import metadata

transfer_trust = Table(
    "transfer_trust",
    metadata,
    # "root", "timestamp", "snapshot" or "targets".
    Column("role", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    # The canonical metadata bytes (kept for root; others too, for audit).
    Column("body", LargeBinary, nullable=False),
    Column("updated_at", Float, nullable=False),
)

transfer_bundles = Table(
    "transfer_bundles",
    metadata,
    Column("id", String(32), primary_key=True),
    # "awaiting_approval", "activated", "rejected".
    Column("status", String(32), nullable=False, index=True),
    Column("importer", String(256), nullable=False),
    Column("approver", String(256), nullable=True),
    Column("imported_at", Float, nullable=False),
    Column("activated_at", Float, nullable=True),
    Column("built_at", Float, nullable=True),
    Column("root_version", Integer, nullable=False),
    Column("timestamp_version", Integer, nullable=False),
    Column("snapshot_version", Integer, nullable=False),
    Column("targets_version", Integer, nullable=False),
    Column("root_sha256", String(64), nullable=False),
    Column("timestamp_sha256", String(64), nullable=False),
    Column("snapshot_sha256", String(64), nullable=False),
    Column("targets_sha256", String(64), nullable=False),
    Column("grace_s", Float, nullable=False),
    # Where a verified bundle waits for its second person (private staging directory).
    Column("staging_path", Text, nullable=True),
    # JSON: the verified metadata bytes of each role, for re-checking at approval.
    Column("metadata_json", Text, nullable=False),
)

transfer_targets = Table(
    "transfer_targets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bundle_id", String(32), nullable=False, index=True),
    Column("path", String(1024), nullable=False),
    # "model", "policy", "threat-intel", "wheel", "sbom".
    Column("kind", String(32), nullable=False, index=True),
    Column("component", String(256), nullable=False, index=True),
    Column("version", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("stored_path", Text, nullable=False),
    # JSON: the signed custom block (manifest, SBOM path, build time).
    Column("custom_json", Text, nullable=False),
    # "registered", "awaiting_approval" (policy packs), "stored", "kept".
    Column("state", String(32), nullable=False),
    Column("activated_at", Float, nullable=False),
)

__all__ = ["transfer_bundles", "transfer_targets", "transfer_trust"]
