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
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


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
