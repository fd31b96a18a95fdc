"""Lockbox tables: access requests (with their grants) and the votes cast on them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from sovra.store.tables import metadata

lockbox_requests = Table(
    "lockbox_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("requester", String(128), nullable=False, index=True),
    Column("jurisdiction", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("scope_kind", String(16), nullable=False),
    Column("scope_id", String(128), nullable=False),
    Column("actions", Text, nullable=False),  # JSON list
    Column("reason", Text, nullable=False),
    Column("ticket", String(128), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("single_use", Boolean, nullable=False),
    Column("breakglass", Boolean, nullable=False),
    Column("tier", Integer, nullable=False),
    Column("destructive", Boolean, nullable=False),
    Column("required", Integer, nullable=False),
    # pending -> active | denied | revoked; expiry follows from the times below
    Column("status", String(16), nullable=False, index=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("request_expires_at", Float, nullable=False),
    Column("last_event_at", Float, nullable=False),
    Column("granted_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("ended_by", String(128), nullable=True),
    Column("end_reason", Text, nullable=False),
    Column("first_used_at", Float, nullable=True),
    Column("review_due", Float, nullable=True),
    # The ledger entry that recorded the request: the report scans the ledger from here.
    Column("ledger_seq", Integer, nullable=True),
    # Supervised: actions under the grant are refused while no approver watches.
    Column("supervised", Boolean, nullable=False, server_default=false()),
)

lockbox_votes = Table(
    "lockbox_votes",
    metadata,
    Column("request_id", String(40), ForeignKey("lockbox_requests.id"), nullable=False,
           index=True),
    Column("voter", String(128), nullable=False),
    Column("kind", String(8), nullable=False),  # approve | deny | review
    Column("jurisdiction", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("at", Float, nullable=False),
    Column("comment", Text, nullable=False),
    # Nobody votes twice on one request, even if two processes race.
    UniqueConstraint("request_id", "voter", name="uq_lockbox_votes_request_voter"),
)

__all__ = ["lockbox_requests", "lockbox_votes"]
