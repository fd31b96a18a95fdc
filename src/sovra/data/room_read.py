"""A narrow plaintext read for other rooms' services (analytics, the export diode).

Those rooms decide access with their own, finer rules (per column, per export) after
the data room's per-collection decision, so they read a document's extracted text as a
room service rather than through a caller-facing method. This is the one door for it:
it needs the service unsealed, decrypts under the document's own keyring, and hands
back the text in memory; nothing is written. Callers record their own use (the analytics
query, the export) in the ledger; this read is part of that operation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from sovra.data import sealing
from sovra.data._core import document_keyring
from sovra.data.service import DataService
from sovra.policy import Classification
from sovra.store.tables.data import data_collections, data_documents


@dataclass(frozen=True)
class StoredDocument:
    """The latest version of one document, described without decrypting it."""

    id: str
    collection_id: str
    kind: str
    version: int
    declared: Classification
    classification: Classification


def collection_ids(data: DataService) -> list[str]:
    """Every collection's id, for a room service that reports over all of them."""
    with data.core.engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(
            select(data_collections.c.id).order_by(data_collections.c.id)).all()]


def latest_documents(data: DataService, collection_id: str,
                     kinds: tuple[str, ...] | None = None) -> list[StoredDocument]:
    """The latest version of each document of ``kinds`` (None: every kind) in a
    collection, by source, without decrypting anything."""
    docs = data_documents.c
    query = (select(docs.id, docs.source_key, docs.kind, docs.version, docs.declared,
                    docs.classification)
             .where(docs.collection_id == collection_id)
             .order_by(docs.source_key, docs.version.desc()))
    if kinds is not None:
        query = query.where(docs.kind.in_(kinds))
    with data.core.engine.connect() as conn:
        rows = conn.execute(query).all()
    latest: dict[str, StoredDocument] = {}
    for row in rows:
        latest.setdefault(row.source_key, StoredDocument(
            row.id, collection_id, row.kind, row.version, Classification(row.declared),
            Classification(row.classification)))
    return list(latest.values())


def document_plaintext(data: DataService, document_id: str) -> tuple[str, str]:
    """(source name, extracted text) of one document, decrypted in memory.

    ``SealedError`` while the key service is sealed, ``NotFoundError`` for an unknown
    (or crypto-erased) document."""
    core = data.core
    core.require_unsealed()
    with core.engine.connect() as conn:
        row = core.document_row(conn, document_id)
    key = core.keys.decrypt(document_keyring(document_id), f"data/document/{document_id}",
                            bytes(row.wrapped_key))
    body = json.loads(sealing.unseal(key, f"document/{document_id}", bytes(row.body)))
    return str(body["name"]), str(body["text"])


__all__ = ["StoredDocument", "collection_ids", "document_plaintext", "latest_documents"]
