"""Hybrid retrieval and document reads, permission-filtered inside the queries.

The allowed set is computed first (policy: ``collections.read`` per requested
collection; the caller's clearance), then both index queries are restricted to it, then
the two rankings are fused (RRF). Only the k fused winners are decrypted. Every call is
recorded (``data.retrieve``) with the chunk ids returned, never the query text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Connection, select

from sovra.data import sealing
from sovra.data._core import Core, collection_from_row, document_from_row, document_keyring
from sovra.data.embed import Vectors
from sovra.data.fusion import reciprocal_rank_fusion
from sovra.data.index import Scope
from sovra.data.ingest import collection_resource
from sovra.data.tokens import query_terms
from sovra.data.values import DocumentInfo, RetrievedChunk
from sovra.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from sovra.identity import Caller
from sovra.policy import Classification, Resource
from sovra.store.tables.data import (
    data_chunk_content,
    data_chunks,
    data_collections,
    data_documents,
)

MAX_K = 100
_CANDIDATES = 50  # per ranking, before fusion


class Retrieval:
    core: Core

    def allowed_scope(self, caller: Caller, collections: Sequence[str] | None) -> Scope:
        """Collections (of those asked, or all) the caller may read, and its clearance."""
        core = self.core
        with core.engine.connect() as conn:
            query = select(data_collections)
            if collections is not None:
                query = query.where(data_collections.c.id.in_(list(collections)))
            rows = conn.execute(query).all()
            found = [collection_from_row(row, core.held(conn, row.id, None)) for row in rows]
        allowed = tuple(sorted(
            c.id for c in found
            if core.decide(caller, "collections.read", collection_resource(c))))
        return Scope(allowed, int(Classification.parse(caller.clearance)))

    def retrieve(self, caller: Caller, query: str, collections: Sequence[str] | None = None,
                 k: int = 5) -> list[RetrievedChunk]:
        if not query.strip():
            raise InvalidInputError("the query is empty")
        if not 1 <= k <= MAX_K:
            raise InvalidInputError(f"k must be 1..{MAX_K}")
        core = self.core
        core.require_unsealed()
        # The query's embedding depends on nothing but the query text (no data is read),
        # so a worker thread computes it while this thread works out the allowed scope
        # (onnxruntime releases the GIL; the scope is Python, SQL and Cedar).
        embedding = core.searches.submit(self._embed, query)
        try:
            scope = self.allowed_scope(caller, collections)
            if collections is not None:
                self._require_named(caller, collections, scope)
            with core.engine.connect() as conn:
                terms = [t for c in scope.collections
                         for t in query_terms(query, core.index_key(conn, c))]
        except BaseException:
            embedding.cancel()
            raise
        limit = max(_CANDIDATES, k * 4)
        # The lexical query runs on its own connection in a worker thread while this
        # thread ranks the vectors: SQLite and numpy both release the GIL, so the two
        # searches overlap. Each search is the same call, on the same scope, as when
        # they ran one after the other.
        lexical_search = core.searches.submit(self._lexical, terms, scope, limit)
        try:
            vector = embedding.result()  # waits, and re-raises its error
            with core.engine.connect() as conn:
                dense = core.index.dense(conn, vector, scope, limit)
        finally:
            lexical = lexical_search.result()  # waits, and re-raises its error
        fused = reciprocal_rank_fusion([lexical, dense])[:k]
        with core.engine.connect() as conn:
            hits = self._load(conn, [chunk_id for chunk_id, _ in fused], scope)
        results = [replace(hits[chunk_id], score=score) for chunk_id, score in fused
                   if chunk_id in hits]
        core.record(caller, "data.retrieve", "collections/" + ",".join(scope.collections),
                    "success", {
                        "query_sha256": hashlib.sha256(query.encode()).hexdigest(), "k": k,
                        "clearance": caller.clearance,
                        "chunks": [f"{r.document_id}#{r.chunk_index}" for r in results]})
        return results

    def _require_named(self, caller: Caller, collections: Sequence[str], scope: Scope
                       ) -> None:
        """Every collection named must exist and be readable: ignoring one silently made
        a question over a mistyped or forbidden collection an uncited, invented answer
        (issue 15). The refusal is recorded, naming the collections but not the query."""
        missing = sorted(set(collections) - set(scope.collections))
        if not missing:
            return
        with self.core.engine.connect() as conn:
            existing = set(conn.execute(select(data_collections.c.id).where(
                data_collections.c.id.in_(missing))).scalars())
        unknown = [c for c in missing if c not in existing]
        forbidden = [c for c in missing if c in existing]
        self.core.record(caller, "data.retrieve", "collections/" + ",".join(missing),
                         "failure" if unknown else "denied",
                         {"unknown": unknown, "forbidden": forbidden})
        if unknown:
            raise NotFoundError(
                f"no collection {', '.join(map(repr, unknown))}: list the collections with "
                "GET /data/collections (or `sovra data collection list`), or load the sample "
                "one with `sovra demo`")
        raise PermissionDeniedError(
            f"{caller.principal_id} may not read collection "
            f"{', '.join(map(repr, forbidden))}: ask its owner or an admin for read access")

    def _embed(self, query: str) -> Vectors:
        return self.core.embedder.embed_one(query)

    def _lexical(self, terms: list[str], scope: Scope, limit: int) -> list[int]:
        with self.core.engine.connect() as conn:
            return self.core.index.lexical(conn, terms, scope, limit)

    def _load(self, conn: Connection, ids: list[int], scope: Scope
              ) -> dict[int, RetrievedChunk]:
        if not ids:
            return {}
        # The same permission conditions again: the rows read are only allowed ones.
        rows = conn.execute(
            select(data_chunks, data_chunk_content.c.body, data_documents.c.version,
                   data_documents.c.wrapped_key)
            .join(data_chunk_content, data_chunk_content.c.id == data_chunks.c.id)
            .join(data_documents, data_documents.c.id == data_chunks.c.document_id)
            # "|| ''" and "+ 0" keep the planner on the primary key (five rows) instead of
            # the (collection, classification) index, which would visit every chunk of
            # the collection; the conditions still hold for every row returned.
            .where(data_chunks.c.id.in_(ids),
                   (data_chunks.c.collection_id + "").in_(list(scope.collections)),
                   (data_chunks.c.classification + 0) <= scope.clearance)).all()
        keys: dict[str, bytes] = {}
        out: dict[int, RetrievedChunk] = {}
        for row in rows:
            if row.document_id not in keys:
                keys[row.document_id] = self.core.keys.decrypt(
                    document_keyring(row.document_id), f"data/document/{row.document_id}",
                    bytes(row.wrapped_key))
            text = sealing.unseal(keys[row.document_id],
                                  f"chunk/{row.document_id}/{row.chunk_index}",
                                  bytes(row.body)).decode("utf-8")
            out[row.id] = RetrievedChunk(
                row.document_id, row.version, row.chunk_index, row.start_offset,
                row.end_offset, row.page, 0.0, text, Classification(row.classification),
                row.collection_id)
        return out

    # -- documents ---------------------------------------------------------------------

    def document_info(self, document_id: str) -> DocumentInfo:
        with self.core.engine.connect() as conn:
            return document_from_row(self.core.document_row(conn, document_id))

    def list_documents(self, caller: Caller, collection_id: str) -> list[DocumentInfo]:
        scope = self.allowed_scope(caller, [collection_id])
        if collection_id not in scope.collections:
            raise PermissionDeniedError(f"{caller.principal_id} may not read collection "
                                        f"{collection_id!r}")
        with self.core.engine.connect() as conn:
            rows = conn.execute(select(data_documents).where(
                data_documents.c.collection_id == collection_id,
                data_documents.c.classification <= scope.clearance)
                .order_by(data_documents.c.created_at)).all()
        return [document_from_row(row) for row in rows]

    def read_document(self, caller: Caller, document_id: str) -> tuple[DocumentInfo, str, str]:
        """(info, source name, text); decided per document (``documents.read``) and recorded."""
        core = self.core
        core.require_unsealed()
        with core.engine.connect() as conn:
            row = core.document_row(conn, document_id)
        info = document_from_row(row)
        core.policy.require(caller, "documents.read", Resource(
            "Document", document_id, {"classification": int(info.classification)}))
        if info.collection_id not in self.allowed_scope(caller, [info.collection_id]).collections:
            raise PermissionDeniedError(f"{caller.principal_id} may not read collection "
                                        f"{info.collection_id!r}")
        core.record(caller, "data.document.read", f"document/{document_id}", "success",
                    {"collection_id": info.collection_id, "version": info.version})
        key = core.keys.decrypt(document_keyring(document_id), f"data/document/{document_id}",
                                bytes(row.wrapped_key))
        body = json.loads(sealing.unseal(key, f"document/{document_id}", bytes(row.body)))
        return info, str(body["name"]), str(body["text"])


__all__ = ["MAX_K", "Retrieval"]
