"""Read tabular documents out of the data room, decrypted only in memory.

The analytics service reads a collection's CSV/TSV and JSON documents as a room
service, after Cedar allowed the caller ``analytics.query`` on that collection, because
its own rules are finer than a whole document: a caller below an IBAN column's level
still sees the other columns, with that one masked (``governance.py``). Nothing is
written anywhere: the plaintext lives in this process for the query and in the
in-memory DuckDB database, which is closed when the query ends. Only the latest version
of each document is a table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from sovra.data import DataService, sealing
from sovra.data._core import document_keyring
from sovra.policy import Classification
from sovra.store.tables.data import data_documents

TABULAR_KINDS = ("csv", "json")


@dataclass(frozen=True)
class TabularDocument:
    id: str
    collection_id: str
    kind: str
    version: int
    declared: Classification
    classification: Classification


def tabular_documents(data: DataService, collection_id: str,
                      kinds: tuple[str, ...] | None = TABULAR_KINDS) -> list[TabularDocument]:
    """The latest version of each tabular (``kinds=None``: every) document in the
    collection, without decrypting anything."""
    docs = data_documents.c
    query = (select(docs.id, docs.source_key, docs.kind, docs.version, docs.declared,
                    docs.classification)
             .where(docs.collection_id == collection_id)
             .order_by(docs.source_key, docs.version.desc()))
    if kinds is not None:
        query = query.where(docs.kind.in_(kinds))
    with data.core.engine.connect() as conn:
        rows = conn.execute(query).all()
    latest: dict[str, TabularDocument] = {}
    for row in rows:
        latest.setdefault(row.source_key, TabularDocument(
            row.id, collection_id, row.kind, row.version, Classification(row.declared),
            Classification(row.classification)))
    return list(latest.values())


def plaintext(data: DataService, document_id: str) -> tuple[str, str]:
    """(source name, text) of one document, decrypted under its own keyring."""
    core = data.core
    core.require_unsealed()
    with core.engine.connect() as conn:
        row = core.document_row(conn, document_id)
    key = core.keys.decrypt(document_keyring(document_id), f"data/document/{document_id}",
                            bytes(row.wrapped_key))
    body = json.loads(sealing.unseal(key, f"document/{document_id}", bytes(row.body)))
    return str(body["name"]), str(body["text"])


__all__ = ["TABULAR_KINDS", "TabularDocument", "plaintext", "tabular_documents"]
