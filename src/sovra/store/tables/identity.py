"""Identity tables: principals (users, service accounts, groups), membership, API keys."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    LargeBinary,
    String,
    Table,
    Text,
)

from sovra.store.tables import metadata

identity_principals = Table(
    "identity_principals",
    metadata,
    Column("principal_id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # user | service | group
    Column("display_name", String(256), nullable=False),
    Column("roles", Text, nullable=False),  # JSON list of role names, sorted
    Column("clearance", String(16), nullable=False),
    Column("org_unit", String(128), nullable=False),
    Column("jurisdiction", String(64), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(128), nullable=False),
)

identity_group_members = Table(
    "identity_group_members",
    metadata,
    Column("group_id", String(128), ForeignKey("identity_principals.principal_id"),
           primary_key=True),
    Column("member_id", String(128), ForeignKey("identity_principals.principal_id"),
           primary_key=True, index=True),
)

identity_api_keys = Table(
    "identity_api_keys",
    metadata,
    # The public prefix: it names the key in logs and finds the row in one lookup.
    Column("key_id", String(32), primary_key=True),
    Column("principal_id", String(128), ForeignKey("identity_principals.principal_id"),
           nullable=False, index=True),
    Column("secret_sha256", LargeBinary(32), nullable=False),
    Column("label", String(256), nullable=False),
    Column("scope", Text, nullable=True),  # JSON list of actions / "prefix.*"; NULL = any
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
)

# Identity changes that need a second person (issue 13): an API key for someone else
# (a credential hand-over), a principal created with the admin or approver role, a member
# added to a group holding one. The request is kept until an approver decides it.
identity_changes = Table(
    "identity_changes",
    metadata,
    Column("change_id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),  # apikey | principal | member | enable
    Column("target", String(128), nullable=False),  # the principal it is about
    Column("request", Text, nullable=False),  # JSON: the parameters of the change
    Column("status", String(16), nullable=False),  # pending | approved | rejected | failed
    Column("requested_by", String(128), nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("decided_by", String(128), nullable=True),
    Column("decided_at", Float, nullable=True),
)

__all__ = ["identity_api_keys", "identity_changes", "identity_group_members",
           "identity_principals"]
