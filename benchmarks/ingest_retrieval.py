"""Ingest throughput and hybrid-retrieval latency on the embedded profile (SQLite).

1. Ingest: ``--docs`` generated documents (~3 KB of prose with identifiers each) through
   ``DataService.ingest_paths`` with the real model: docs/s and MB/s, everything included
   (parse, classify, chunk, embed, per-document keyring, ledger entries, one transaction).
2. Index build: documents of 100 paragraphs until ``--chunks`` chunks are indexed, through
   ``DataService.ingest``. Paragraphs come from a pool of ``--pool`` distinct paragraphs
   embedded once with the real model; a cache in front of the model serves repeats, so
   building 100,000 chunks takes minutes, not hours (the scan cost of a query does not
   depend on which vectors are stored); chunk overlap is 0 there so that each chunk is
   exactly one pool paragraph.
3. Retrieval: ``--queries`` queries through ``DataService.retrieve`` (k=5: permission
   scope, keyed terms, FTS5 BM25 in a worker thread while the matrix dense search runs
   (ADR 0404), RRF, decrypting the 5 hits, the ledger entry). Query vectors are computed
   once up front (model time reported separately). Baseline in the same run: a raw
   FTS5 BM25 query on the same table (no permission filter, no fusion, no decryption);
   also timed alone: the filtered lexical query and the matrix dense search (the
   sqlite-vec comparison lives in ``dense_one_library.py`` since ADR 0405).

    .venv/bin/python benchmarks/ingest_retrieval.py                   # quick: 20k chunks
    .venv/bin/python benchmarks/ingest_retrieval.py --chunks 100000   # the recorded run

Building 100,000 chunks takes 10-20 minutes. ``--data-dir DIR`` keeps the instance there
(with the benchmark's throwaway unseal shares, ``DIR/bench-shares.txt``): the first run
builds it, later runs with the same ``--chunks``/``--pool`` reopen it, unseal it and run
only the retrieval phase (the ingest phase is skipped, and reported as skipped). Queries
come from their own seeded generator, so they are the same whether the corpus was just
built or reused.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text as sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from classify_throughput import mixed_prose
from sovra.config import load_settings
from sovra.data import CollectionSpec, Embedder
from sovra.data.tokens import query_terms
from sovra.identity import Caller
from sovra.instance import open_instance
from sovra.policy import Classification

CALLER = Caller("bench", "user", frozenset({"admin"}), "secret")
_VOCABULARY = ("invoice contract supplier delivery payment warranty schedule budget audit "
          "policy employee training safety report quarter revenue customer service "
          "shipment logistics storage backup network security incident review board "
          "meeting minutes approval travel expense reimbursement office holiday")
_WORDS = _VOCABULARY.split()


class CachedEmbedder:
    """The real model behind a dictionary: each distinct text is embedded once."""

    def __init__(self, model: Embedder) -> None:
        self.model = model
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for t, v in zip(missing, self.model.embed(missing), strict=True):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384))

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def _vocabulary(size: int = 5000) -> list[str]:
    """Pseudo-words (seeded); drawn with Zipf weights like the words of real prose."""
    rng = random.Random(11)
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words = list(dict.fromkeys(_WORDS + ["".join(rng.choice(syllables) for _ in range(
        rng.randint(1, 4))) for _ in range(size * 2)]))
    return words[:size]


VOCABULARY = _vocabulary()
_WEIGHTS = [1.0 / (rank + 1) for rank in range(len(VOCABULARY))]


def paragraph(rng: random.Random) -> str:
    words = rng.choices(VOCABULARY, _WEIGHTS, k=rng.randint(55, 75))  # < 800 characters
    return " ".join(words).capitalize() + "."


def query(rng: random.Random) -> str:
    """Three to five content words (not among the 50 most frequent)."""
    return " ".join(rng.sample(VOCABULARY[50:2000], rng.randint(3, 5)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--pool", type=int, default=300)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep the built instance here and reuse it on later runs")
    args = parser.parse_args()
    rng = random.Random(3)
    keep = args.data_dir is not None
    root = args.data_dir.resolve() if keep else Path(tempfile.mkdtemp(prefix="sovra-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    built = {"chunks": args.chunks, "pool": args.pool, "docs": args.docs}
    marker = root / "bench-corpus.json"
    reuse = keep and marker.exists() and json.loads(marker.read_text()).get("built") == built
    if keep and not reuse and (root / "data").exists():
        sys.exit(f"{root} holds another corpus; remove it or choose another --data-dir")
    inst = open_instance(load_settings(data_dir=root / "data", checkpoint_interval_s=0.0))
    result: dict[str, Any] = {"benchmark": "ingest_retrieval", "profile": "embedded"}
    try:
        model = Embedder()
        cached = CachedEmbedder(model)
        if reuse:
            for line in (root / "bench-shares.txt").read_text().split():
                inst.keys.submit_share(line, actor="bench")
            saved = json.loads(marker.read_text())
            result["ingest"] = {"skipped": "corpus reused from --data-dir"}
            result["index"] = {**saved["index"], "reused": True}
            inst.data.use_embedder(cached)  # type: ignore[arg-type]
        else:
            shares: list[Any] = []
            inst.keys.init(threshold=2, shares=3, deliver=shares.extend, actor="bench")
            if keep:
                (root / "bench-shares.txt").write_text(
                    "\n".join(s.token() for s in shares[:2]) + "\n")
            inst.data.use_embedder(model)
            inst.data.create_collection(CALLER, CollectionSpec(
                "bench", "bench", "benchmark", ("none",), ("synthetic",), 365, "EU",
                Classification.SECRET))
            result["ingest"] = ingest_phase(inst, root, args.docs)
            inst.data.use_embedder(cached)  # type: ignore[arg-type]
            # Without overlap every chunk of a bulk document is exactly one pool
            # paragraph, so the cache in front of the model serves all of them.
            inst.data.core.config = replace(inst.data.core.config, chunk_overlap=0)
            result["index"] = build_phase(inst, cached, rng, args.chunks, args.pool)
            if keep:
                marker.write_text(json.dumps({"built": built, "index": result["index"]}))
        result["retrieval"] = query_phase(inst, cached, model, random.Random(7),
                                          args.queries)
    finally:
        inst.close()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


def ingest_phase(inst: Any, root: Path, docs: int) -> dict[str, Any]:
    folder = root / "docs"
    folder.mkdir(exist_ok=True)
    for i in range(docs):
        body, _ = mixed_prose(0.003, rate=0.05, seed=i)
        (folder / f"doc-{i:05d}.txt").write_text(body)
    size = sum(p.stat().st_size for p in folder.iterdir())
    start = time.perf_counter()
    summary = inst.data.ingest_paths(CALLER, "bench", [folder])
    seconds = time.perf_counter() - start
    chunks = sum(r.chunks for r in summary.results)
    return {"documents": docs, "megabytes": round(size / 1e6, 3), "chunks": chunks,
            "failed": summary.count("failed"), "s": round(seconds, 2),
            "docs_per_s": round(docs / seconds, 2), "mb_per_s": round(size / 1e6 / seconds, 4),
            "chunks_per_s": round(chunks / seconds, 1)}


def build_phase(inst: Any, cached: CachedEmbedder, rng: random.Random, target: int,
                pool_size: int) -> dict[str, Any]:
    pool = [paragraph(rng) for _ in range(pool_size)]
    start = time.perf_counter()
    cached.embed(pool)
    model_s = time.perf_counter() - start
    start = time.perf_counter()
    n = chunks = 0
    while chunks < target:
        body = "\n\n".join(rng.choice(pool) for _ in range(100))
        chunks += inst.data.ingest(CALLER, "bench", f"bulk-{n:06d}.txt", body.encode()).chunks
        n += 1
    seconds = time.perf_counter() - start
    with inst.data.core.engine.connect() as conn:
        chunks = conn.execute(sql("SELECT count(*) FROM data_chunks")).scalar_one()
    return {"chunks": chunks, "documents": n, "pool_paragraphs": pool_size,
            "pool_embedding_s": round(model_s, 1), "build_s": round(seconds, 1),
            "chunks_per_s_without_model": round(chunks / seconds, 1)}


def query_phase(inst: Any, cached: CachedEmbedder, model: Embedder, rng: random.Random,
                count: int) -> dict[str, Any]:
    queries = [query(rng) for _ in range(count)]
    model_ms = []
    for q in queries:
        start = time.perf_counter()
        cached.cache[q] = model.embed_one(q)
        model_ms.append((time.perf_counter() - start) * 1000)
    for q in queries[:10]:  # warm caches (pages, index keys)
        inst.data.retrieve(CALLER, q, None, 5)
    parts = _instrument(inst)
    ours, cpu = [], []
    for q in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        hits = inst.data.retrieve(CALLER, q, None, 5)
        ours.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert hits, q
    baseline, lexical, dense = [], [], []
    core = inst.data.core
    scope = inst.data.allowed_scope(CALLER, None)
    with core.engine.connect() as conn:
        key = core.index_key(conn, "bench")
        for q in queries:
            terms = query_terms(q, key)
            match = " OR ".join(f'"{t}"' for t in terms)
            start = time.perf_counter()
            conn.execute(sql("SELECT rowid FROM data_chunks_fts WHERE data_chunks_fts MATCH :m "
                             "ORDER BY bm25(data_chunks_fts) LIMIT 50"), {"m": match}).all()
            baseline.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            core.index.lexical(conn, terms, scope, 50)
            lexical.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            core.index.dense(conn, cached.cache[q], scope, 50)
            dense.append((time.perf_counter() - start) * 1000)
    return {
        "queries": count, "k": 5, "load_average": os.getloadavg(),
        "retrieve_ms": {"p50": round(statistics.median(ours), 2),
                        "p95": round(percentile(ours, 0.95), 2)},
        # CPU of the whole process (all threads) per call: less sensitive to other load
        # than wall-clock time, but it adds up the two searches that run at once.
        "retrieve_process_cpu_ms": {"p50": round(statistics.median(cpu), 2),
                                    "p95": round(percentile(cpu, 0.95), 2)},
        "raw_fts5_ms": {"p50": round(statistics.median(baseline), 2),
                        "p95": round(percentile(baseline, 0.95), 2)},
        "ratio_p50_to_raw_fts5": round(statistics.median(ours) / statistics.median(baseline), 1),
        "lexical_filtered_ms": {"p50": round(statistics.median(lexical), 2),
                                "p95": round(percentile(lexical, 0.95), 2)},
        "dense_matrix_ms": {"p50": round(statistics.median(dense), 2),
                            "p95": round(percentile(dense, 0.95), 2)},
        "query_embedding_ms": {"p50": round(statistics.median(model_ms), 2),
                               "p95": round(percentile(model_ms, 0.95), 2)},
        # "lexical" runs in a worker thread at the same time as "dense" (ADR 0404).
        "retrieve_breakdown_p50_ms": {name: round(statistics.median(values), 2)
                                      for name, values in parts.items() if values},
    }


def _instrument(inst: Any) -> dict[str, list[float]]:
    """Time the steps of ``retrieve`` (wrapping the service's own methods, in place)."""
    parts: dict[str, list[float]] = {}
    core = inst.data.core

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                parts.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return wrapper

    inst.data.allowed_scope = timed("policy_scope", inst.data.allowed_scope)
    core.index.lexical = timed("lexical", core.index.lexical)
    core.index.dense = timed("dense", core.index.dense)
    inst.data._load = timed("fetch_and_decrypt", inst.data._load)
    core.record = timed("ledger_append", core.record)
    return parts


if __name__ == "__main__":
    main()
