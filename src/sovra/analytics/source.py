"""Read tabular documents out of the data room, decrypted only in memory.

The analytics service reads a collection's CSV/TSV and JSON documents as a room
service, after Cedar allowed the caller ``analytics.query`` on that collection, because
its own rules are finer than a whole document: a caller below an IBAN column's level
still sees the other columns, with that one masked (``governance.py``). Nothing is
written anywhere: the plaintext lives in this process for the query and in the
in-memory DuckDB database, which is closed when the query ends. Only the latest version
of each document is a table. The data room's narrow read (``sovra.data.room_read``) is
the only way in: this room never touches the data room's private modules.
"""

from __future__ import annotations

from sovra.data import DataService, StoredDocument, document_plaintext, latest_documents

TABULAR_KINDS = ("csv", "json", "parquet", "xlsx")

TabularDocument = StoredDocument


def tabular_documents(data: DataService, collection_id: str,
                      kinds: tuple[str, ...] | None = TABULAR_KINDS) -> list[TabularDocument]:
    """The latest version of each tabular (``kinds=None``: every) document in the
    collection, without decrypting anything."""
    return latest_documents(data, collection_id, kinds)


def plaintext(data: DataService, document_id: str) -> tuple[str, str]:
    """(source name, text) of one document, decrypted under its own keyring."""
    return document_plaintext(data, document_id)


__all__ = ["TABULAR_KINDS", "TabularDocument", "plaintext", "tabular_documents"]
