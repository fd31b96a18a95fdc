"""Data: collections, documents, chunks (+ lexical index), holds, erasures, signing key.

The lexical index is dialect-specific: an external-content FTS5 table over
``data_chunk_content.terms`` on SQLite, a GIN expression index over ``to_tsvector('simple',
terms)`` on PostgreSQL. The sqlite-vec table needs the extension loaded, so the data
service creates it when it opens (it is an index, like FTS).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data_0001"
down_revision = "root"
branch_labels = ("data",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_collections",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("subject_categories", sa.Text, nullable=False),
        sa.Column("data_categories", sa.Text, nullable=False),
        sa.Column("retention_days", sa.Integer, nullable=False),
        sa.Column("jurisdiction", sa.String(64), nullable=False),
        sa.Column("ceiling", sa.Integer, nullable=False),
        sa.Column("keyring_id", sa.String(160), nullable=False),
        sa.Column("wrapped_index_key", sa.LargeBinary, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "data_documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("collection_id", sa.String(64), sa.ForeignKey(
            "data_collections.id", name="fk_data_documents_collection_id_data_collections"),
            nullable=False),
        sa.Column("source_key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_mac", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("classification", sa.Integer, nullable=False),
        sa.Column("declared", sa.Integer, nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("keyring_id", sa.String(160), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.UniqueConstraint("collection_id", "source_key", "version",
                            name="uq_data_documents_source_version"),
    )
    op.create_index("ix_data_documents_collection_id", "data_documents", ["collection_id"])
    op.create_table(
        "data_chunks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(36), sa.ForeignKey(
            "data_documents.id", name="fk_data_chunks_document_id_data_documents"),
            nullable=False),
        sa.Column("collection_id", sa.String(64), nullable=False),
        sa.Column("chunk_index", sa.Integer, nullable=False),
        sa.Column("start_offset", sa.Integer, nullable=False),
        sa.Column("end_offset", sa.Integer, nullable=False),
        sa.Column("page", sa.Integer, nullable=True),
        sa.Column("classification", sa.Integer, nullable=False),
    )
    op.create_index("ix_data_chunks_document_id", "data_chunks", ["document_id"])
    op.create_index("ix_data_chunks_collection_id", "data_chunks",
                    ["collection_id", "classification"])
    op.create_table(
        "data_chunk_content",
        sa.Column("id", sa.Integer, sa.ForeignKey(
            "data_chunks.id", name="fk_data_chunk_content_id_data_chunks"), primary_key=True,
            autoincrement=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=True),
    )
    op.create_table(
        "data_holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("collection_id", sa.String(64), sa.ForeignKey(
            "data_collections.id", name="fk_data_holds_collection_id_data_collections"),
            nullable=False),
        sa.Column("document_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_by", sa.String(256), nullable=False),
        sa.Column("set_at", sa.Float, nullable=False),
        sa.Column("released_by", sa.String(256), nullable=True),
        sa.Column("released_at", sa.Float, nullable=True),
    )
    op.create_index("ix_data_holds_collection_id", "data_holds", ["collection_id"])
    op.create_table(
        "data_erasures",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("certificate", sa.Text, nullable=False),
        sa.Column("ledger_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "data_signing_keys",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("wrapped_private_key", sa.LargeBinary, nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    if op.get_context().dialect.name == "sqlite":
        # External content: FTS5 keeps only its inverted index, never a copy of the terms.
        op.execute("CREATE VIRTUAL TABLE data_chunks_fts USING fts5("
                   "terms, content='data_chunk_content', content_rowid='id')")
    else:
        op.execute("CREATE INDEX ix_data_chunk_content_terms_tsv ON data_chunk_content "
                   "USING gin (to_tsvector('simple', terms))")


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS data_chunks_vec")
        op.execute("DROP TABLE IF EXISTS data_chunks_fts")
    op.drop_table("data_signing_keys")
    op.drop_table("data_erasures")
    op.drop_table("data_holds")
    op.drop_table("data_chunk_content")
    op.drop_table("data_chunks")
    op.drop_table("data_documents")
    op.drop_table("data_collections")
