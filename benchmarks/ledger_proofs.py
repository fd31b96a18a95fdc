"""Inclusion and consistency proofs at 1,000,000 entries: generation and verification.

Builds the subtree-hash cache (``sovra.ledger.tree.HashTree``) over ``--entries`` leaf
hashes, then measures, in the same run:

* build: the cache from the leaf hashes (what ``Ledger.open`` does after reading them);
* baseline_recompute_root: computing one tree head from the leaf hashes without the
  cache (what proof generation would cost if it recomputed the tree);
* baseline_hash_path: the bare SHA-256 calls a proof of this depth needs (the floor of
  any verification);
* inclusion_proof / consistency_proof: generation from the cache at random indexes and
  sizes, for the newest tree size and for historical ones;
* verify_inclusion / verify_consistency: RFC 9162 §2.1.3.2 / §2.1.4.2 verification.

Reports p50/p99 in microseconds and ratios to the baselines. Targets: generation < 1 ms,
verification < 100 µs. Optionally (``--ledger``) also through a real ``Ledger`` on a
SQLite file holding the entries (measures ``Ledger.open`` at that size too).

    .venv/bin/python benchmarks/ledger_proofs.py                     # 1,000,000 leaves
    .venv/bin/python benchmarks/ledger_proofs.py --ledger            # plus a real ledger
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sovra.ledger import merkle
from sovra.ledger.tree import HashTree


def percentiles(fn: Callable[[], object], samples: int) -> dict[str, float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - start) / 1000)
    times.sort()
    return {"p50_us": round(statistics.median(times), 2),
            "p99_us": round(times[int(len(times) * 0.99) - 1], 2),
            "max_us": round(times[-1], 2)}


def measure_tree(tree: HashTree, samples: int, rng: random.Random) -> dict[str, object]:
    n = tree.size
    root = tree.root()
    leaf = tree.leaf_hash
    picks = [(rng.randrange(n), rng.randrange(1, n + 1)) for _ in range(samples)]
    it = iter(picks * 3)

    def gen_latest() -> None:
        tree.inclusion_proof(rng.randrange(n), n)

    def gen_historical() -> None:
        index, size = next(it)
        tree.inclusion_proof(index % size, size)

    proofs = [(i, tree.inclusion_proof(i, n)) for i in (rng.randrange(n) for _ in range(256))]
    pit = iter(proofs * (samples // 256 + 1))

    def verify() -> None:
        i, proof = next(pit)
        merkle.verify_inclusion(i, n, leaf(i), proof, root)

    sizes = [(rng.randrange(1, n), n) for _ in range(256)]
    cons = [(a, b, tree.root(a), tree.consistency_proof(a, b)) for a, b in sizes]
    cit = iter(cons * (samples // 256 + 1))

    def gen_consistency() -> None:
        a = rng.randrange(1, n)
        tree.consistency_proof(a, n)

    def verify_consistency() -> None:
        a, b, ra, proof = next(cit)
        merkle.verify_consistency(a, b, ra, root, proof)

    depth = len(proofs[0][1])
    node = b"\x01" + b"\x00" * 64
    sha = hashlib.sha256

    def hash_path() -> None:
        for _ in range(depth):
            sha(node).digest()

    return {
        "proof_hashes": depth,
        "baseline_hash_path": percentiles(hash_path, samples),
        "inclusion_proof_latest": percentiles(gen_latest, samples),
        "inclusion_proof_historical": percentiles(gen_historical, samples),
        "verify_inclusion": percentiles(verify, samples),
        "consistency_proof": percentiles(gen_consistency, samples),
        "verify_consistency": percentiles(verify_consistency, samples),
    }


def with_ledger(entries: int, samples: int, rng: random.Random) -> dict[str, object]:
    """A real ledger: entries written straight into SQLite, then ``Ledger.open``."""
    from sovra.config import load_settings
    from sovra.ledger import Ledger
    from sovra.ledger import entry as entry_format
    from sovra.ledger.storage import LedgerStore
    from sovra.store import make_engine, upgrade

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), checkpoint_interval_s=0.0)
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
        store = LedgerStore(engine)
        prefix = entry_format.prepare("user:bench", "data.ingest", "c", "success", {"n": 1})
        stamp = entry_format.format_time(1_790_000_000)
        for start in range(0, entries, 50_000):
            rows = []
            for seq in range(start, min(entries, start + 50_000)):
                body = entry_format.seal(prefix, seq, stamp)
                rows.append((seq, merkle.leaf_hash(body), body, "data.ingest", "user:bench",
                             "c"))
            store.insert_entries(rows)
        start_open = time.perf_counter()
        ledger = Ledger.open(engine, settings)
        opened = time.perf_counter() - start_open
        try:
            n = ledger.size
            result = {
                "ledger_open_s": round(opened, 2),
                "ledger_inclusion_proof": percentiles(
                    lambda: ledger.inclusion_proof(rng.randrange(n), n), samples),
                "ledger_entry_with_proof": percentiles(
                    lambda: ledger.entry_with_proof(rng.randrange(n), n), min(samples, 2000)),
            }
        finally:
            ledger.close()
            engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--ledger", action="store_true",
                        help="also measure through a real Ledger on SQLite (slower)")
    args = parser.parse_args()
    rng = random.Random(1)
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(args.entries)]

    start = time.perf_counter()
    tree = HashTree.from_leaf_hashes(leaves)
    build = time.perf_counter() - start
    start = time.perf_counter()
    recomputed = merkle.root_of(leaves)
    recompute = time.perf_counter() - start
    assert recomputed == tree.root()

    report: dict[str, object] = {
        "benchmark": "ledger_proofs", "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "entries": args.entries,
        "build_cache_s": round(build, 3),
        "baseline_recompute_root_s": round(recompute, 3),
    }
    report.update(measure_tree(tree, args.samples, rng))
    gen = report["inclusion_proof_latest"]
    ver = report["verify_inclusion"]
    base = report["baseline_hash_path"]
    assert isinstance(gen, dict) and isinstance(ver, dict) and isinstance(base, dict)
    report["ratio_proof_vs_recompute"] = round(gen["p50_us"] / (recompute * 1e6), 6)
    report["ratio_verify_vs_hash_path"] = round(ver["p50_us"] / base["p50_us"], 2)
    report["targets"] = {"inclusion_proof_us": 1000, "verify_inclusion_us": 100}
    if args.ledger:
        report.update(with_ledger(args.entries, args.samples, rng))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
