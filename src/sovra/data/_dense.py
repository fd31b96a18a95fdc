"""Exact dense search over an in-process matrix per collection (both profiles, ADR 0402).

The matrix of a collection is (re)built from the database when the collection's
``generation`` (bumped in the same transaction as every chunk insert or delete) differs
from the cached one; only the vectors of chunks not yet cached are read, so ingesting
one document into a large collection costs one id scan and a few vector reads. A search
touches only the allowed collections and masks chunks above the caller's clearance
before ranking, so a hidden chunk never takes a rank.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, bindparam, select

from sovra.data.embed import DIMENSIONS, Vectors
from sovra.store.tables.data import data_chunks, data_collections


def single_threaded_blas() -> None:
    """Run numpy's BLAS (the dense search's matrix-vector product) on one thread.

    Process-wide, on purpose: a retrieval already runs its lexical search on a second
    thread next to the product (ADR 0404) and requests run concurrently, while
    OpenBLAS's own worker threads busy-wait after every product and took the CPU the
    concurrent search needed (A/B on 100,000 chunks: process CPU per retrieval p50
    79 -> 45 ms). The product is bound by memory bandwidth, not by cores.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


# Reads the float32 vectors of the given chunk ids: {chunk id: little-endian bytes}.
VectorLoader = Callable[[Connection, list[int]], dict[int, bytes]]
_BATCH = 500
# Built once: constructing the statement on every search cost about as much as running it.
_GENERATIONS = select(data_collections.c.id, data_collections.c.generation).where(
    data_collections.c.id.in_(bindparam("collections", expanding=True)))


@dataclass(frozen=True)
class _Matrix:
    generation: int
    ids: npt.NDArray[np.int64]  # ascending
    classification: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]


class MatrixCache:
    def __init__(self, loader: VectorLoader) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._matrices: dict[str, _Matrix] = {}

    def search(self, conn: Connection, vector: Vectors, collections: Sequence[str],
               clearance: int, limit: int) -> list[int]:
        query = np.asarray(vector, dtype=np.float32)
        ids: list[npt.NDArray[np.int64]] = []
        scores: list[npt.NDArray[np.float32]] = []
        for matrix in self._current(conn, collections):
            allowed = matrix.classification <= clearance
            if allowed.all():
                ids.append(matrix.ids)
                scores.append(matrix.vectors @ query)
            elif allowed.any():
                # Score every row, then keep the allowed scores: hidden chunks still never
                # take a rank, and no copy of the allowed rows (most of a 150 MB matrix at
                # 100,000 chunks) is made per query (benchmarks/dense_one_library.py).
                ids.append(matrix.ids[allowed])
                scores.append((matrix.vectors @ query)[allowed])
        if not ids:
            return []
        # One collection (the common case): its arrays as they are, without a copy.
        all_ids = ids[0] if len(ids) == 1 else np.concatenate(ids)
        all_scores = scores[0] if len(scores) == 1 else np.concatenate(scores)
        if len(all_scores) > limit:
            best = np.argpartition(-all_scores, limit)[:limit]
            top = best[np.argsort(-all_scores[best], kind="stable")]
        else:
            top = np.argsort(-all_scores, kind="stable")
        return [int(i) for i in all_ids[top]]

    def _current(self, conn: Connection, collections: Sequence[str]) -> list[_Matrix]:
        if not collections:
            return []
        generations = conn.execute(_GENERATIONS, {"collections": list(collections)}).all()
        out = []
        for collection_id, generation in generations:
            with self._lock:
                cached = self._matrices.get(collection_id)
            if cached is None or cached.generation != generation:
                cached = self._refresh(conn, collection_id, int(generation), cached)
                with self._lock:
                    self._matrices[collection_id] = cached
            out.append(cached)
        return out

    def _refresh(self, conn: Connection, collection_id: str, generation: int,
                 old: _Matrix | None) -> _Matrix:
        rows = conn.execute(select(data_chunks.c.id, data_chunks.c.classification)
                            .where(data_chunks.c.collection_id == collection_id)
                            .order_by(data_chunks.c.id)).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        classification = np.array([r[1] for r in rows], dtype=np.int64)
        vectors = np.zeros((len(ids), DIMENSIONS), dtype=np.float32)
        known = np.zeros(len(ids), dtype=bool)
        if old is not None and len(old.ids):
            at = np.searchsorted(old.ids, ids)
            at[at >= len(old.ids)] = 0
            known = old.ids[at] == ids
            vectors[known] = old.vectors[at[known]]
        missing = [int(i) for i in ids[~known]]
        loaded: dict[int, bytes] = {}
        for begin in range(0, len(missing), _BATCH):
            loaded.update(self._loader(conn, missing[begin:begin + _BATCH]))
        present = np.ones(len(ids), dtype=bool)
        for row, chunk_id in zip(np.flatnonzero(~known), missing, strict=True):
            blob = loaded.get(chunk_id)
            if blob is None:
                present[row] = False  # written by a transaction this snapshot cannot see
                continue
            vectors[row] = np.frombuffer(blob, dtype="<f4")
        return _Matrix(generation, ids[present], classification[present], vectors[present])


__all__ = ["MatrixCache", "VectorLoader", "single_threaded_blas"]
