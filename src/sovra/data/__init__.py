"""The data layer: collections, parsing, classification, the hybrid index, lifecycle.

``instance.data`` (a ``DataService``) is the one entry point for edges; ``Embedder`` is
the packaged sentence-embedding model (shared with the AI gateway's /v1/embeddings);
``verify_certificate`` checks an erasure certificate offline.

The exports load on first use, so the pure ``sovra.data.classify`` imports without the
service's database, numpy or policy engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export

if TYPE_CHECKING:
    from sovra.data.certificates import verify_certificate
    from sovra.data.chunking import ChunkingConfig, chunk_text
    from sovra.data.embed import MODEL_ID as EMBEDDING_MODEL_ID
    from sovra.data.embed import MODEL_SHA256 as EMBEDDING_MODEL_SHA256
    from sovra.data.embed import Embedder
    from sovra.data.embed import installed_files as embedding_model_files
    from sovra.data.hooks import Eraser, EraserRegistry, ErasureRequest
    from sovra.data.ingest import expand
    from sovra.data.parsers._tabular import SHEET_MARK
    from sovra.data.room_read import (
        StoredDocument,
        collection_ids,
        document_plaintext,
        latest_documents,
    )
    from sovra.data.service import DataService, open_data
    from sovra.data.uploads import FRAMING_ALLOWANCE, receive_upload
    from sovra.data.values import (
        Collection,
        CollectionSpec,
        DocumentInfo,
        Hold,
        IngestResult,
        IngestSummary,
        RetentionReport,
        RetrievedChunk,
    )

_VALUES = ("Collection", "CollectionSpec", "DocumentInfo", "Hold", "IngestResult",
           "IngestSummary", "RetentionReport", "RetrievedChunk")
_HOMES = {
    "verify_certificate": "sovra.data.certificates",
    "Embedder": "sovra.data.embed",
    "Eraser": "sovra.data.hooks",
    "EraserRegistry": "sovra.data.hooks",
    "ErasureRequest": "sovra.data.hooks",
    "DataService": "sovra.data.service",
    "open_data": "sovra.data.service",
    **dict.fromkeys(_VALUES, "sovra.data.values"),
    "ChunkingConfig": "sovra.data.chunking",
    "chunk_text": "sovra.data.chunking",
    "expand": "sovra.data.ingest",
    "SHEET_MARK": "sovra.data.parsers._tabular",
    "StoredDocument": "sovra.data.room_read",
    "collection_ids": "sovra.data.room_read",
    "document_plaintext": "sovra.data.room_read",
    "latest_documents": "sovra.data.room_read",
    "FRAMING_ALLOWANCE": "sovra.data.uploads",
    "receive_upload": "sovra.data.uploads",
    "EMBEDDING_MODEL_ID": "sovra.data.embed:MODEL_ID",
    "EMBEDDING_MODEL_SHA256": "sovra.data.embed:MODEL_SHA256",
    "embedding_model_files": "sovra.data.embed:installed_files",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "EMBEDDING_MODEL_ID",
    "EMBEDDING_MODEL_SHA256",
    "FRAMING_ALLOWANCE",
    "SHEET_MARK",
    "ChunkingConfig",
    "Collection",
    "CollectionSpec",
    "DataService",
    "DocumentInfo",
    "Embedder",
    "Eraser",
    "EraserRegistry",
    "ErasureRequest",
    "Hold",
    "IngestResult",
    "IngestSummary",
    "RetentionReport",
    "RetrievedChunk",
    "StoredDocument",
    "chunk_text",
    "collection_ids",
    "document_plaintext",
    "embedding_model_files",
    "expand",
    "latest_documents",
    "open_data",
    "receive_upload",
    "verify_certificate",
]
