"""The data layer: collections, parsing, classification, the hybrid index, lifecycle.

``instance.data`` (a ``DataService``) is the one entry point for edges; ``Embedder`` is
the packaged sentence-embedding model (shared with the AI gateway's /v1/embeddings);
``verify_certificate`` checks an erasure certificate offline.
"""

from __future__ import annotations

from sovra.data.certificates import verify_certificate
from sovra.data.embed import Embedder
from sovra.data.hooks import Eraser, EraserRegistry, ErasureRequest
from sovra.data.service import DataService, open_data
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

__all__ = [
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
    "open_data",
    "verify_certificate",
]
