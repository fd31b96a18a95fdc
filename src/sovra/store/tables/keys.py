"""Key custody tables: the ceremony record, keyrings, wrapped KEK versions, wrapped DEKs.

Nothing here is plaintext key material: KEKs are stored wrapped under the root, DEKs
wrapped under a KEK, and the ceremony keeps share *fingerprints* and a verifier (an
AEAD blob only the right root opens), never shares or the root.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, LargeBinary, String, Table, Text

from sovra.store.tables import metadata

keys_ceremony = Table(
    "keys_ceremony",
    metadata,
    # Always 1: the primary key makes a second, concurrent `sovra init` fail in the database.
    Column("slot", Integer, primary_key=True, autoincrement=False),
    Column("ceremony_id", String(16), nullable=False),
    Column("mode", String(16), nullable=False),  # "shamir", "dev" or "hsm"
    Column("threshold", Integer, nullable=False),
    Column("share_count", Integer, nullable=False),
    Column("fingerprints", Text, nullable=False),  # JSON list, index i-1 -> share i
    Column("verifier", LargeBinary, nullable=False),
    Column("hsm_config", Text, nullable=True),  # JSON HsmConfig (module, label, PIN source)
    Column("created_at", Float, nullable=False),
)

keys_keyrings = Table(
    "keys_keyrings",
    metadata,
    Column("keyring_id", String(256), primary_key=True),
    Column("current_version", Integer, nullable=False),
    Column("min_version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    # Set when crypto-erased; the row stays as a tombstone so later reads say "destroyed".
    Column("destroyed_at", Float, nullable=True),
)

keys_kek_versions = Table(
    "keys_kek_versions",
    metadata,
    Column("keyring_id", String(256), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("wrapped_kek", LargeBinary, nullable=True),  # NULL once retired or erased
    Column("created_at", Float, nullable=False),
    Column("retired_at", Float, nullable=True),
)

keys_deks = Table(
    "keys_deks",
    metadata,
    Column("dek_id", String(32), primary_key=True),  # hex of the id in the ciphertext header
    Column("keyring_id", String(256), nullable=False),
    Column("object_id", String(512), nullable=False),
    Column("kek_version", Integer, nullable=False),
    Column("wrapped_dek", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_keys_deks_keyring_version", "keyring_id", "kek_version"),
    Index("ix_keys_deks_keyring_object", "keyring_id", "object_id"),
)

__all__ = ["keys_ceremony", "keys_deks", "keys_kek_versions", "keys_keyrings"]
