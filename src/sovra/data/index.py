"""The hybrid index: lexical (keyed terms) and dense (MiniLM vectors), per profile.

Permission filtering happens inside each query: the caller's readable collections and
clearance are SQL conditions (or, for the PostgreSQL dense search, a mask applied before
the top-k selection), so a chunk the caller may not see never takes a rank.

* Embedded (SQLite): FTS5 BM25 over ``data_chunks.terms`` (external content) and a
  sqlite-vec ``vec0`` table with the collection as partition key and the classification
  as a metadata column, both filterable inside the KNN query.
* Cluster (PostgreSQL): full text over ``to_tsvector('simple', terms)`` (GIN) ranked with
  ``ts_rank_cd``; vectors as bytes in ``data_chunks.embedding``, searched in process with
  a numpy matrix per collection, cached by the collection's generation (ADR 0402).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sqlalchemy import Connection, bindparam, select, text

from sovra.data.embed import DIMENSIONS, Vectors
from sovra.store.tables.data import data_chunks, data_collections


@dataclass(frozen=True)
class ChunkBatch:
    """The index entries of one document version's chunks."""

    collection_id: str
    classification: int
    ids: Sequence[int]
    terms: Sequence[str]
    vectors: Vectors


@dataclass(frozen=True)
class Scope:
    """What a caller may search: readable collections and the highest classification."""

    collections: tuple[str, ...]
    clearance: int


class SearchIndex(Protocol):
    def prepare(self, conn: Connection) -> None: ...
    def add(self, conn: Connection, batch: ChunkBatch) -> None: ...
    def remove(self, conn: Connection, rows: Sequence[tuple[int, str]]) -> None: ...
    def lexical(self, conn: Connection, terms: Sequence[str], scope: Scope,
                limit: int) -> list[int]: ...
    def dense(self, conn: Connection, vector: Vectors, scope: Scope,
              limit: int) -> list[int]: ...


def _match_expression(terms: Sequence[str]) -> str:
    # Terms are "t" + hex, so quoting is only for FTS5's syntax, never for escaping.
    return " OR ".join(f'"{t}"' for t in terms)


class SqliteIndex:
    """FTS5 + sqlite-vec on the embedded profile."""

    def prepare(self, conn: Connection) -> None:
        conn.execute(text(
            "CREATE VIRTUAL TABLE IF NOT EXISTS data_chunks_vec USING vec0("
            f"chunk_id integer primary key, embedding float[{DIMENSIONS}] "
            "distance_metric=cosine, collection_id text partition key, "
            "classification integer)"))

    def add(self, conn: Connection, batch: ChunkBatch) -> None:
        conn.execute(text("INSERT INTO data_chunks_fts(rowid, terms) VALUES (:id, :terms)"),
                     [{"id": i, "terms": t} for i, t in zip(batch.ids, batch.terms, strict=True)])
        conn.execute(text(
            "INSERT INTO data_chunks_vec(chunk_id, embedding, collection_id, classification) "
            "VALUES (:id, :embedding, :collection, :classification)"),
            [{"id": i, "embedding": np.asarray(v, dtype=np.float32).tobytes(),
              "collection": batch.collection_id, "classification": batch.classification}
             for i, v in zip(batch.ids, batch.vectors, strict=True)])

    def remove(self, conn: Connection, rows: Sequence[tuple[int, str]]) -> None:
        if not rows:
            return
        # External-content FTS5 forgets a row only when told its old terms.
        conn.execute(text("INSERT INTO data_chunks_fts(data_chunks_fts, rowid, terms) "
                          "VALUES ('delete', :id, :terms)"),
                     [{"id": i, "terms": t} for i, t in rows])
        conn.execute(text("DELETE FROM data_chunks_vec WHERE chunk_id = :id"),
                     [{"id": i} for i, _ in rows])

    def lexical(self, conn: Connection, terms: Sequence[str], scope: Scope,
                limit: int) -> list[int]:
        if not terms or not scope.collections:
            return []
        query = text(
            # CROSS JOIN fixes the loop order (SQLite's documented planner override): walk
            # the FTS matches, look each chunk up by key, filter, rank. The planner would
            # otherwise scan the allowed chunks and probe FTS for each.
            "SELECT c.id FROM data_chunks_fts CROSS JOIN data_chunks c "
            "ON c.id = data_chunks_fts.rowid "
            "WHERE data_chunks_fts MATCH :match AND c.collection_id IN :collections "
            "AND c.classification <= :clearance "
            "ORDER BY bm25(data_chunks_fts) LIMIT :limit"
        ).bindparams(bindparam("collections", expanding=True))
        return [row[0] for row in conn.execute(query, {
            "match": _match_expression(terms), "collections": list(scope.collections),
            "clearance": scope.clearance, "limit": limit})]

    def dense(self, conn: Connection, vector: Vectors, scope: Scope,
              limit: int) -> list[int]:
        if not scope.collections:
            return []
        query = text(
            "SELECT chunk_id, distance FROM data_chunks_vec WHERE embedding MATCH :vector "
            "AND k = :limit AND collection_id IN :collections "
            "AND classification <= :clearance ORDER BY distance"
        ).bindparams(bindparam("collections", expanding=True))
        rows = conn.execute(query, {
            "vector": np.asarray(vector, dtype=np.float32).tobytes(), "limit": limit,
            "collections": list(scope.collections), "clearance": scope.clearance}).all()
        # k applies per partition: merge the collections' lists by distance.
        return [row[0] for row in sorted(rows, key=lambda r: r[1])[:limit]]


@dataclass(frozen=True)
class _Matrix:
    generation: int
    ids: np.ndarray
    classification: np.ndarray
    vectors: np.ndarray


class PostgresIndex:
    """PostgreSQL full text + an in-process vector matrix per collection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._matrices: dict[str, _Matrix] = {}

    def prepare(self, conn: Connection) -> None:
        return None

    def add(self, conn: Connection, batch: ChunkBatch) -> None:
        conn.execute(data_chunks.update().where(data_chunks.c.id == bindparam("chunk_id"))
                     .values(embedding=bindparam("vector")),
                     [{"chunk_id": i, "vector": np.asarray(v, dtype="<f4").tobytes()}
                      for i, v in zip(batch.ids, batch.vectors, strict=True)])

    def remove(self, conn: Connection, rows: Sequence[tuple[int, str]]) -> None:
        return None  # the rows themselves carry terms and vectors; deleting them is enough

    def lexical(self, conn: Connection, terms: Sequence[str], scope: Scope,
                limit: int) -> list[int]:
        if not terms or not scope.collections:
            return []
        query = text(
            "SELECT id FROM data_chunks, to_tsquery('simple', :query) AS q "
            "WHERE to_tsvector('simple', terms) @@ q AND collection_id IN :collections "
            "AND classification <= :clearance "
            "ORDER BY ts_rank_cd(to_tsvector('simple', terms), q) DESC, id LIMIT :limit"
        ).bindparams(bindparam("collections", expanding=True))
        return [row[0] for row in conn.execute(query, {
            "query": " | ".join(terms), "collections": list(scope.collections),
            "clearance": scope.clearance, "limit": limit})]

    def dense(self, conn: Connection, vector: Vectors, scope: Scope,
              limit: int) -> list[int]:
        ids: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        query = np.asarray(vector, dtype=np.float32)
        for matrix in self._current(conn, scope.collections):
            # The clearance mask is applied before ranking: hidden chunks take no rank.
            allowed = matrix.classification <= scope.clearance
            if not allowed.any():
                continue
            ids.append(matrix.ids[allowed])
            scores.append(matrix.vectors[allowed] @ query)
        if not ids:
            return []
        all_ids, all_scores = np.concatenate(ids), np.concatenate(scores)
        top = np.argsort(-all_scores, kind="stable")[:limit]
        return [int(i) for i in all_ids[top]]

    def _current(self, conn: Connection, collections: Sequence[str]) -> list[_Matrix]:
        if not collections:
            return []
        generations = dict(conn.execute(
            select(data_collections.c.id, data_collections.c.generation)
            .where(data_collections.c.id.in_(list(collections)))).all())
        out = []
        for collection_id, generation in generations.items():
            with self._lock:
                cached = self._matrices.get(collection_id)
            if cached is None or cached.generation != generation:
                cached = self._load(conn, collection_id, int(generation))
                with self._lock:
                    self._matrices[collection_id] = cached
            out.append(cached)
        return out

    def _load(self, conn: Connection, collection_id: str, generation: int) -> _Matrix:
        rows = conn.execute(select(data_chunks.c.id, data_chunks.c.classification,
                                   data_chunks.c.embedding)
                            .where(data_chunks.c.collection_id == collection_id)
                            .where(data_chunks.c.embedding.is_not(None))).all()
        vectors = np.frombuffer(b"".join(bytes(r[2]) for r in rows), dtype="<f4")
        return _Matrix(generation, np.array([r[0] for r in rows], dtype=np.int64),
                       np.array([r[1] for r in rows], dtype=np.int64),
                       vectors.reshape(len(rows), DIMENSIONS).astype(np.float32))


def index_for(dialect: str) -> SearchIndex:
    return PostgresIndex() if dialect == "postgresql" else SqliteIndex()


__all__ = ["ChunkBatch", "PostgresIndex", "Scope", "SearchIndex", "SqliteIndex", "index_for"]
