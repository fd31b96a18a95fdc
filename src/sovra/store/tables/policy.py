"""Policy tables: every version of the policy set, proposed, active or superseded."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table, Text

from sovra.store.tables import metadata

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("text", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    # The unified diff from the version active when proposed, and its SHA-256.
    Column("diff", Text, nullable=False),
    Column("diff_sha256", String(64), nullable=False),
    Column("base_version", Integer, nullable=True),
    # proposed -> active -> superseded; proposed -> rejected
    Column("status", String(16), nullable=False, index=True),
    Column("comment", Text, nullable=False),
    Column("proposed_by", String(128), nullable=False),
    Column("proposed_at", Float, nullable=False),
    Column("approved_by", String(128), nullable=True),
    Column("approved_at", Float, nullable=True),
)

__all__ = ["policy_versions"]
