"""Data tables: collections (GDPR Art. 30 records), document versions, chunks, legal holds,
erasure certificates, and the data layer's own signing key (stored encrypted).

Everything that could hold personal data is a ciphertext (``body``, ``wrapped_key``) or a
keyed hash (``source_key``, ``content_mac``, ``data_chunk_content.terms``); see
docs/data.md, threat model.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from sovra.store.tables import metadata

data_collections = Table(
    "data_collections",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(256), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("subject_categories", Text, nullable=False),  # JSON list
    Column("data_categories", Text, nullable=False),  # JSON list
    Column("retention_days", Integer, nullable=False),
    Column("jurisdiction", String(64), nullable=False),
    Column("ceiling", Integer, nullable=False),
    Column("keyring_id", String(160), nullable=False),
    # Key for the keyed hashes of index terms and names, encrypted under the keyring.
    Column("wrapped_index_key", LargeBinary, nullable=False),
    # Bumped by every change to the collection's chunks (dense-vector cache validation).
    Column("generation", BigInteger, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(256), nullable=False),
)

data_documents = Table(
    "data_documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("collection_id", String(64), ForeignKey("data_collections.id"), nullable=False),
    Column("source_key", String(64), nullable=False),  # keyed hash of the source name
    Column("version", Integer, nullable=False),
    Column("content_mac", String(64), nullable=False),  # keyed hash of the raw bytes
    Column("kind", String(16), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("classification", Integer, nullable=False),
    Column("declared", Integer, nullable=False),
    Column("findings", Text, nullable=False),  # JSON {kind: count}, never values
    Column("keyring_id", String(160), nullable=False),  # the document's own keyring
    Column("wrapped_key", LargeBinary, nullable=False),  # document key, via sovra.keys
    Column("body", LargeBinary, nullable=False),  # encrypted JSON: name, text, metadata
    Column("body_sha256", String(64), nullable=False),  # of the ciphertext
    Column("chunk_count", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("collection_id", "source_key", "version",
                     name="uq_data_documents_source_version"),
)
Index("ix_data_documents_collection_id", data_documents.c.collection_id)

# Narrow on purpose: the lexical query joins every FTS match to this table to apply the
# permission filter, so it must stay small enough to live in the page cache.
data_chunks = Table(
    "data_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("document_id", String(36), ForeignKey("data_documents.id"), nullable=False),
    Column("collection_id", String(64), nullable=False),
    Column("chunk_index", Integer, nullable=False),
    Column("start_offset", Integer, nullable=False),
    Column("end_offset", Integer, nullable=False),
    Column("page", Integer, nullable=True),
    Column("classification", Integer, nullable=False),
)
Index("ix_data_chunks_document_id", data_chunks.c.document_id)
Index("ix_data_chunks_collection_id", data_chunks.c.collection_id, data_chunks.c.classification)

# The bulky part of a chunk, one row per chunk with the same id.
data_chunk_content = Table(
    "data_chunk_content",
    metadata,
    Column("id", Integer, ForeignKey("data_chunks.id"), primary_key=True,
           autoincrement=False),
    Column("body", LargeBinary, nullable=False),  # encrypted chunk text
    Column("terms", Text, nullable=False),  # keyed hashes of the chunk's words (lexical)
    # float32 little-endian vector; on PostgreSQL only (SQLite keeps it in sqlite-vec).
    Column("embedding", LargeBinary, nullable=True),
)

data_holds = Table(
    "data_holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("collection_id", String(64), ForeignKey("data_collections.id"), nullable=False),
    Column("document_id", String(36), nullable=True),  # None: the whole collection
    Column("reason", Text, nullable=False),
    Column("set_by", String(256), nullable=False),
    Column("set_at", Float, nullable=False),
    Column("released_by", String(256), nullable=True),
    Column("released_at", Float, nullable=True),
)
Index("ix_data_holds_collection_id", data_holds.c.collection_id)

data_erasures = Table(
    "data_erasures",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # "subject" or "retention"
    Column("certificate", Text, nullable=False),  # signed JSON; ids and hashes only
    Column("ledger_seq", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

data_signing_keys = Table(
    "data_signing_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("wrapped_private_key", LargeBinary, nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

__all__ = ["data_chunk_content", "data_chunks", "data_collections", "data_documents",
           "data_erasures", "data_holds", "data_signing_keys"]
