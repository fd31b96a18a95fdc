"""Dense search with one SQLite library per process: the alternatives of ADR 0405.

Exactly one SQLite library may open the instance file in a process (issue 13). The
candidates for the embedded profile's vectors, measured on the same random corpus
(``--chunks`` unit vectors of 384 floats, one collection, classifications 0-3):

1. ``matrix_column``: what Sovra does now: vectors as BLOBs in
   ``data_chunk_content.embedding`` read through CPython's ``sqlite3`` into the
   in-process matrix (``SqliteIndex.dense``, the real code on a real migrated file).
   Timed warm (the matrix is cached) and cold (the first search after a start reads
   every vector: the cost a restart pays once).
2. ``sqlite_vec_separate_file``: sqlite-vec's ``vec0`` KNN in a file of its own,
   through ``pysqlite3`` (its own SQLite 3.5x that can load extensions), the other way
   to keep one library per *file*. Timed warm; also its insert cost.
3. ``sqlite_vec_in_cpython``: loading sqlite-vec into CPython's ``sqlite3``: reported
   as available or not (``enable_load_extension`` is missing in some builds).

Baseline, in the same run: the raw numpy product and top-k over the same matrix
(``raw_numpy_ms``), the floor any exact search pays. Ratios are p50 to that baseline.

    .venv/bin/python benchmarks/dense_one_library.py                  # 20,000 chunks
    .venv/bin/python benchmarks/dense_one_library.py --chunks 100000  # the ADR's run

sqlite-vec and pysqlite3 are not Sovra dependencies any more; without them (``pip
install sqlite-vec pysqlite3-binary``) alternative 2 is reported as not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sovra.data._dense import single_threaded_blas
from sovra.data._engine import data_engine
from sovra.data.index import Scope, SqliteIndex
from sovra.store import make_engine, upgrade

DIMENSIONS = 384
K = 50


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered), 3),
            "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3)}


def _timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _corpus(chunks: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((chunks, DIMENSIONS), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    classes = rng.integers(0, 4, chunks)
    queries = rng.standard_normal((64, DIMENSIONS), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return vectors, classes, queries


def _raw_numpy(vectors: np.ndarray) -> Callable[[np.ndarray], object]:
    def once(q: np.ndarray) -> object:
        scores = vectors @ q
        return np.argpartition(-scores, K)[:K]

    return once


def _fill_instance_file(path: Path, vectors: np.ndarray, classes: np.ndarray) -> float:
    """A migrated instance file with one collection, one document and the chunks;
    returns ms per 1,000 chunk vectors written (content rows with their BLOB)."""
    main = make_engine(f"sqlite:///{path}")
    upgrade(main)
    main.dispose()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO data_collections (id, owner, purpose, subject_categories, "
                 "data_categories, retention_days, jurisdiction, ceiling, keyring_id, "
                 "wrapped_index_key, generation, created_at, created_by) VALUES "
                 "('bench', 'b', 'b', '[]', '[]', 1, 'EU', 3, 'k', x'00', 1, 0, 'b')")
    conn.execute("INSERT INTO data_documents (id, collection_id, source_key, version, "
                 "content_mac, kind, size_bytes, classification, declared, findings, "
                 "keyring_id, wrapped_key, body, body_sha256, chunk_count, created_at, "
                 "created_by) VALUES ('d', 'bench', 's', 1, 'm', 'text', 0, 0, 0, '{}', "
                 "'k', x'00', x'00', 'h', 0, 0, 'b')")
    conn.executemany("INSERT INTO data_chunks (id, document_id, collection_id, chunk_index, "
                     "start_offset, end_offset, classification) VALUES (?, 'd', 'bench', "
                     "?, 0, 0, ?)", [(i + 1, i, int(c)) for i, c in enumerate(classes)])
    conn.commit()
    start = time.perf_counter()
    conn.executemany("INSERT INTO data_chunk_content (id, body, terms, embedding) "
                     "VALUES (?, x'00', '', ?)",
                     [(i + 1, v.astype("<f4").tobytes()) for i, v in enumerate(vectors)])
    conn.commit()
    elapsed = (time.perf_counter() - start) * 1000
    conn.close()
    return elapsed / (len(vectors) / 1000)


def _matrix_column(path: Path) -> tuple[Callable[[np.ndarray], object], Callable[[], None],
                                          Any]:
    """The real search (``SqliteIndex.dense``) on the real file, and its first-search time."""
    engine = data_engine(make_engine(f"sqlite:///{path}"))
    index = SqliteIndex()
    scope = Scope(("bench",), 2)  # masks about a quarter of the chunks, as a clearance does
    conn = engine.connect()

    def close() -> None:
        conn.close()
        engine.dispose()

    return (lambda q: index.dense(conn, q, scope, K)), close, index


def _sqlite_vec_separate_file(directory: Path, vectors: np.ndarray, classes: np.ndarray
                              ) -> tuple[Callable[[np.ndarray], object] | None, dict[str, Any]]:
    try:
        import pysqlite3.dbapi2 as other_sqlite
        import sqlite_vec
    except ImportError as exc:
        return None, {"measured": False, "why": f"{exc.name} is not installed"}
    conn = other_sqlite.connect(str(directory / "vectors.db"))
    conn.enable_load_extension(True)  # noqa: FBT003 - DB-API signature
    sqlite_vec.load(conn)
    conn.execute(f"CREATE VIRTUAL TABLE v USING vec0(chunk_id integer primary key, "
                 f"embedding float[{DIMENSIONS}] distance_metric=cosine, "
                 "collection_id text partition key, classification integer)")
    start = time.perf_counter()
    conn.executemany("INSERT INTO v VALUES (?, ?, 'bench', ?)",
                     [(i + 1, v.astype("<f4").tobytes(), int(c))
                      for i, (v, c) in enumerate(zip(vectors, classes, strict=True))])
    conn.commit()
    insert = (time.perf_counter() - start) * 1000 / (len(vectors) / 1000)
    query = ("SELECT chunk_id, distance FROM v WHERE embedding MATCH ? AND k = ? "
             "AND collection_id = 'bench' AND classification <= 2 ORDER BY distance")
    version = conn.execute("SELECT sqlite_version(), vec_version()").fetchone()
    info = {"measured": True, "sqlite_version": version[0], "sqlite_vec_version": version[1],
            "insert_ms_per_1000": round(insert, 1)}
    return (lambda q: conn.execute(query, (q.astype("<f4").tobytes(), K)).fetchall()), info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=405)
    args = parser.parse_args()
    single_threaded_blas()  # as the data service sets it (ADR 0404)
    repeat = min(args.queries, 64)
    vectors, classes, queries = _corpus(args.chunks, args.seed)
    with tempfile.TemporaryDirectory(prefix="sovra-dense-") as tmp:
        directory = Path(tmp)
        column_insert = _fill_instance_file(directory / "sovra.db", vectors, classes)
        matrix, close, _ = _matrix_column(directory / "sovra.db")
        cold = _timed(lambda: matrix(queries[0]), 1)[0]
        separate, separate_info = _sqlite_vec_separate_file(directory, vectors, classes)
        baseline = _raw_numpy(vectors)
        samples: dict[str, list[float]] = {"raw": [], "matrix": [], "separate": []}
        # Interleaved, one query at a time, so load from elsewhere hits all three alike.
        for q in queries[:repeat]:
            samples["raw"] += _timed(lambda q=q: baseline(q), 1)
            samples["matrix"] += _timed(lambda q=q: matrix(q), 1)
            if separate is not None:
                samples["separate"] += _timed(lambda q=q: separate(q), 1)
        close()
    base_p50 = statistics.median(samples["raw"])
    matrix_result = {"warm_ms": _percentiles(samples["matrix"]),
                     "ratio_p50_to_raw_numpy": round(
                         statistics.median(samples["matrix"]) / base_p50, 2),
                     "cold_first_search_ms": round(cold, 1),
                     "insert_ms_per_1000": round(column_insert, 1)}
    if samples["separate"]:
        separate_info |= {"warm_ms": _percentiles(samples["separate"]),
                          "ratio_p50_to_raw_numpy": round(
                              statistics.median(samples["separate"]) / base_p50, 2)}
    loadable = hasattr(sqlite3.Connection, "enable_load_extension")
    print(json.dumps({
        "benchmark": "dense_one_library", "chunks": args.chunks, "dimensions": DIMENSIONS,
        "k": K, "queries": repeat, "load_average": os.getloadavg(),
        "cpython_sqlite_version": sqlite3.sqlite_version,
        "raw_numpy_ms": _percentiles(samples["raw"]),
        "matrix_column": matrix_result,
        "sqlite_vec_separate_file": separate_info,
        "sqlite_vec_in_cpython": {
            "available": loadable,
            "why": ("sqlite3.Connection.enable_load_extension exists" if loadable else
                    "this Python's sqlite3 is built without enable_load_extension")},
    }, indent=2))


if __name__ == "__main__":
    main()
