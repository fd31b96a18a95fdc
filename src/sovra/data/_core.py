"""State and helpers shared by the data service's parts (collections, ingest, retrieval,
lifecycle): engines, keys, the per-collection index keys, row conversions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from sovra.data._dense import single_threaded_blas
from sovra.data.classify import LevelMapping
from sovra.data.embed import Embedder
from sovra.data.hooks import EraserRegistry
from sovra.data.index import SearchIndex, index_for
from sovra.data.parsers import ParseLimits
from sovra.data.values import Collection, CollectionSpec, DocumentInfo
from sovra.errors import NotFoundError, SealedError
from sovra.identity import Caller
from sovra.keys import KeyService
from sovra.ledger import Ledger, Receipt
from sovra.policy import Classification, PolicyService, Resource
from sovra.store.tables.data import data_collections, data_documents, data_holds

INDEX_KEY_OBJECT = "data/index-key"
# Concurrent lexical searches; more retrievals than this at once queue for a thread.
_SEARCH_THREADS = 4


@dataclass(frozen=True)
class DataConfig:
    """Settings of the data layer (from ``Settings``; defaults are the safe ones)."""

    limits: ParseLimits = field(default_factory=ParseLimits)
    mapping: LevelMapping = field(default_factory=LevelMapping)
    chunk_size: int = 800
    chunk_overlap: int = 100
    # The instance's bound on lock waits (ADR 0002), for the data room's own engine too.
    busy_timeout_s: float = 30.0


def collection_keyring(collection_id: str) -> str:
    return f"data.collection.{collection_id}"


def document_keyring(document_id: str) -> str:
    return f"data.document.{document_id}"


class Core:
    """What every part of the data service shares. Not part of the public surface."""

    def __init__(self, engine: Engine, *, data_engine: Engine, ledger: Ledger,
                 keys: KeyService, policy: PolicyService, config: DataConfig,
                 embedder: Callable[[], Embedder], clock: Callable[[], float] = time.time
                 ) -> None:
        self.engine = data_engine  # the data tables, FTS and vectors
        self.main_engine = engine
        self.ledger = ledger
        self.keys = keys
        self.policy = policy
        self.config = config
        self.clock = clock
        self.index: SearchIndex = index_for(data_engine.dialect.name)
        self.erasers = EraserRegistry()
        # Called with (actor, resource, file name, bytes) before a file is parsed or
        # indexed; raises QuarantinedError to refuse it (sovra.threat's YARA and hash
        # indicators, wired by sovra.instance). None: no screening.
        self.screen: Callable[[str, str, str, bytes], None] | None = None
        self._embedder_factory = embedder
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()
        self._index_keys: dict[str, bytes] = {}
        single_threaded_blas()  # see there: the two searches below share the cores
        # Runs the lexical half of a retrieval next to the dense half (retrieval.py).
        self.searches = ThreadPoolExecutor(max_workers=_SEARCH_THREADS,
                                           thread_name_prefix="sovra-data-search")
        with self.engine.begin() as conn:
            self.index.prepare(conn)

    def close(self) -> None:
        self.searches.shutdown(wait=True)

    # -- shared resources ------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._embedder_factory()
            return self._embedder

    def set_embedder(self, embedder: Embedder) -> None:
        with self._lock:
            self._embedder = embedder

    def require_unsealed(self) -> None:
        """Cached keys must not outlive a seal: check before using any of them."""
        if self.keys.seal_status().sealed:
            with self._lock:
                self._index_keys.clear()
            raise SealedError("the instance is sealed; unseal it to read or write data")

    def index_key(self, conn: Connection, collection_id: str) -> bytes:
        with self._lock:
            cached = self._index_keys.get(collection_id)
        if cached is not None:
            return cached
        wrapped = conn.execute(select(data_collections.c.wrapped_index_key).where(
            data_collections.c.id == collection_id)).scalar_one_or_none()
        if wrapped is None:
            raise NotFoundError(f"no collection {collection_id!r}")
        key = self.keys.decrypt(collection_keyring(collection_id), INDEX_KEY_OBJECT,
                                bytes(wrapped))
        with self._lock:
            self._index_keys[collection_id] = key
        return key

    def forget_index_key(self, collection_id: str) -> None:
        with self._lock:
            self._index_keys.pop(collection_id, None)

    def record(self, caller: Caller | str, action: str, resource: str, outcome: str,
               details: Mapping[str, object] | None = None) -> Receipt:
        actor = caller if isinstance(caller, str) else caller.principal_id
        return self.ledger.append(actor, action, resource, outcome, details)

    def decide(self, caller: Caller, action: str, resource: Resource) -> bool:
        return self.policy.decide(caller, action, resource).allowed

    # -- rows --------------------------------------------------------------------------

    @staticmethod
    def bump_generation(conn: Connection, collection_id: str) -> None:
        conn.execute(update(data_collections).where(data_collections.c.id == collection_id)
                     .values(generation=data_collections.c.generation + 1))

    @staticmethod
    def held(conn: Connection, collection_id: str, document_id: str | None) -> bool:
        """Whether an active legal hold covers the collection or this document."""
        query = select(data_holds.c.id).where(
            data_holds.c.collection_id == collection_id, data_holds.c.released_at.is_(None))
        rows = conn.execute(query.add_columns(data_holds.c.document_id)).all()
        return any(row.document_id is None or row.document_id == document_id for row in rows)

    def collection_row(self, conn: Connection, collection_id: str) -> Any:
        row = conn.execute(select(data_collections).where(
            data_collections.c.id == collection_id)).first()
        if row is None:
            raise NotFoundError(f"no collection {collection_id!r}")
        return row

    def document_row(self, conn: Connection, document_id: str) -> Any:
        row = conn.execute(select(data_documents).where(
            data_documents.c.id == document_id)).first()
        if row is None:
            raise NotFoundError(f"no document {document_id!r}")
        return row


def collection_from_row(row: Any, held: bool) -> Collection:
    spec = CollectionSpec(
        id=row.id, owner=row.owner, purpose=row.purpose,
        subject_categories=tuple(json.loads(row.subject_categories)),
        data_categories=tuple(json.loads(row.data_categories)),
        retention_days=row.retention_days, jurisdiction=row.jurisdiction,
        ceiling=Classification(row.ceiling))
    return Collection(spec, row.keyring_id, row.created_at, row.created_by, held)


def document_from_row(row: Any) -> DocumentInfo:
    return DocumentInfo(id=row.id, collection_id=row.collection_id, version=row.version,
                        kind=row.kind, size_bytes=row.size_bytes,
                        classification=Classification(row.classification),
                        findings=json.loads(row.findings), chunk_count=row.chunk_count,
                        created_at=row.created_at, content_mac=row.content_mac)


__all__ = ["INDEX_KEY_OBJECT", "Core", "DataConfig", "collection_from_row",
           "collection_keyring", "document_from_row", "document_keyring"]
