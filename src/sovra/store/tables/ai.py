"""AI gateway tables: the model registry and the request index behind ``sovra trace``."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, LargeBinary, String, Table, Text

from sovra.store.tables import metadata

ai_models = Table(
    "ai_models",
    metadata,
    Column("model_id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),  # chat | embedding
    Column("locality", String(16), nullable=False),  # in_process | on_premises | external
    # Weights on disk (in-process models) or the upstream base URL (served models).
    Column("weights_path", Text, nullable=True),
    Column("upstream_url", Text, nullable=True),
    Column("upstream_model", String(256), nullable=True),
    Column("sha256", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("licence", String(128), nullable=False),
    Column("ceiling", String(16), nullable=False),  # highest classification approved for
    Column("approved", Boolean, nullable=False),
    Column("registered_by", String(256), nullable=False),
    Column("approved_by", String(256), nullable=True),
    Column("created_at", Float, nullable=False),
)

# The ledger is the source of truth for every request; this index only maps a request
# id to its ledger entries (and holds the encrypted texts a collection asked to keep).
ai_requests = Table(
    "ai_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("request_seq", BigInteger, nullable=True),
    Column("outcome_seq", BigInteger, nullable=True),
    Column("principal_id", String(256), nullable=False, index=True),
    Column("model_id", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("prompt_ciphertext", LargeBinary, nullable=True),
    Column("answer_ciphertext", LargeBinary, nullable=True),
)

# Per collection: whether the gateway keeps the prompt and answer text (encrypted) of
# requests that retrieved from it. Absent means no: only hashes are kept (issue 7).
ai_collection_policies = Table(
    "ai_collection_policies",
    metadata,
    Column("collection_id", String(64), primary_key=True),
    Column("keep_text", Boolean, nullable=False),
    Column("set_by", String(256), nullable=False),
    Column("set_at", Float, nullable=False),
)

__all__ = ["ai_collection_policies", "ai_models", "ai_requests"]
