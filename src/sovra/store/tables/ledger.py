"""Ledger tables: the entries (leaves), signed checkpoints and witness cosignatures."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, LargeBinary, String, Table, Text

from sovra.store.tables import metadata

ledger_entries = Table(
    "ledger_entries",
    metadata,
    # seq is the leaf index in the Merkle tree (0-based), assigned by the single writer.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    # The canonical (RFC 8785) JSON bytes that were hashed: the source of truth.
    Column("body", LargeBinary, nullable=False),
    # Not indexed: nothing reads entries by action or actor, and every index is one more
    # page per group commit (migration ledger_0002).
    Column("action", String(128), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("resource", String(512), nullable=False),
)

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    # The full C2SP signed note text (checkpoint body, blank line, signature lines).
    Column("note", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

ledger_cosignatures = Table(
    "ledger_cosignatures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tree_size", BigInteger, nullable=False, index=True),
    Column("witness", String(256), nullable=False),
    # One C2SP signature line ("— name base64") as the witness produced it.
    Column("signature_line", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

__all__ = ["ledger_checkpoints", "ledger_cosignatures", "ledger_entries"]
