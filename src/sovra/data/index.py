"""The hybrid index: lexical (keyed terms) and dense (MiniLM vectors), per profile.

Permission filtering happens inside each search: the caller's readable collections and
clearance are SQL conditions of the lexical query, and the dense search only reads the
allowed collections' matrices and masks chunks above the clearance before ranking, so a
chunk the caller may not see never takes a rank (ADR 0402).

Vectors are little-endian float32 bytes in ``data_chunk_content.embedding`` on both
profiles, written in the document's transaction, and searched exactly in process
(``_dense.MatrixCache``). No SQLite extension is loaded: the process uses exactly one
SQLite library, CPython's, which cannot load extensions here (ADR 0405 replaced the
sqlite-vec table of ADR 0402).

* Embedded (SQLite): FTS5 BM25 over ``data_chunk_content.terms`` (external content),
  joined to the narrow ``data_chunks`` for the permission conditions.
* Cluster (PostgreSQL): full text over ``to_tsvector('simple', terms)`` (GIN) ranked with
  ``ts_rank_cd``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sqlalchemy import Connection, bindparam, select, text

from sovra.data._dense import MatrixCache
from sovra.data.embed import Vectors
from sovra.store.tables.data import data_chunk_content


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


def _column_vectors(conn: Connection, ids: list[int]) -> dict[int, bytes]:
    content = data_chunk_content
    rows = conn.execute(select(content.c.id, content.c.embedding)
                        .where(content.c.id.in_(ids), content.c.embedding.is_not(None)))
    return {int(r[0]): bytes(r[1]) for r in rows}


def _store_vectors(conn: Connection, batch: ChunkBatch) -> None:
    conn.execute(data_chunk_content.update()
                 .where(data_chunk_content.c.id == bindparam("chunk_id"))
                 .values(embedding=bindparam("vector")),
                 [{"chunk_id": i, "vector": np.asarray(v, dtype="<f4").tobytes()}
                  for i, v in zip(batch.ids, batch.vectors, strict=True)])


class SqliteIndex:
    """FTS5 + vectors in ``data_chunk_content`` on the embedded profile."""

    def __init__(self) -> None:
        self._matrices = MatrixCache(_column_vectors)

    def prepare(self, conn: Connection) -> None:
        return None  # FTS5 is created by the migration; vectors need no index

    def add(self, conn: Connection, batch: ChunkBatch) -> None:
        conn.execute(text("INSERT INTO data_chunks_fts(rowid, terms) VALUES (:id, :terms)"),
                     [{"id": i, "terms": t} for i, t in zip(batch.ids, batch.terms, strict=True)])
        _store_vectors(conn, batch)

    def remove(self, conn: Connection, rows: Sequence[tuple[int, str]]) -> None:
        if not rows:
            return
        # External-content FTS5 forgets a row only when told its old terms; the vector
        # goes with its content row.
        conn.execute(text("INSERT INTO data_chunks_fts(data_chunks_fts, rowid, terms) "
                          "VALUES ('delete', :id, :terms)"),
                     [{"id": i, "terms": t} for i, t in rows])

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
            # Equal scores (identical chunks) in id order, as on PostgreSQL: the order
            # SQLite already gave them (rows leave FTS5 by rowid), now by definition.
            "ORDER BY bm25(data_chunks_fts), c.id LIMIT :limit"
        ).bindparams(bindparam("collections", expanding=True))
        return [row[0] for row in conn.execute(query, {
            "match": _match_expression(terms), "collections": list(scope.collections),
            "clearance": scope.clearance, "limit": limit})]

    def dense(self, conn: Connection, vector: Vectors, scope: Scope,
              limit: int) -> list[int]:
        return self._matrices.search(conn, vector, scope.collections, scope.clearance, limit)


class PostgresIndex:
    """PostgreSQL full text + an in-process vector matrix per collection."""

    def __init__(self) -> None:
        self._matrices = MatrixCache(_column_vectors)

    def prepare(self, conn: Connection) -> None:
        return None

    def add(self, conn: Connection, batch: ChunkBatch) -> None:
        _store_vectors(conn, batch)

    def remove(self, conn: Connection, rows: Sequence[tuple[int, str]]) -> None:
        return None  # the rows themselves carry terms and vectors; deleting them is enough

    def lexical(self, conn: Connection, terms: Sequence[str], scope: Scope,
                limit: int) -> list[int]:
        if not terms or not scope.collections:
            return []
        query = text(
            "SELECT c.id FROM data_chunk_content t JOIN data_chunks c ON c.id = t.id, "
            "to_tsquery('simple', :query) AS q "
            "WHERE to_tsvector('simple', t.terms) @@ q AND c.collection_id IN :collections "
            "AND c.classification <= :clearance "
            "ORDER BY ts_rank_cd(to_tsvector('simple', t.terms), q) DESC, c.id LIMIT :limit"
        ).bindparams(bindparam("collections", expanding=True))
        return [row[0] for row in conn.execute(query, {
            "query": " | ".join(terms), "collections": list(scope.collections),
            "clearance": scope.clearance, "limit": limit})]

    def dense(self, conn: Connection, vector: Vectors, scope: Scope,
              limit: int) -> list[int]:
        return self._matrices.search(conn, vector, scope.collections, scope.clearance, limit)


def index_for(dialect: str) -> SearchIndex:
    return PostgresIndex() if dialect == "postgresql" else SqliteIndex()


__all__ = ["ChunkBatch", "PostgresIndex", "Scope", "SearchIndex", "SqliteIndex", "index_for"]
