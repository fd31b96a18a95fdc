"""Drill RTO of a large instance (issue 17: 1 GB of documents, 1,000,000 ledger entries,
back to serving in at most 5 minutes).

Builds a real embedded instance (custodian ceremony), ingests a handful of real documents
(so the drill's decrypt and retrieval checks have something to do), appends
``--entries`` ledger entries (valid entries, written in batches through the ledger's
own storage, the way its writer thread does) and ``--data-mb`` of incompressible rows
standing in for the volume of stored documents, then runs ``sovra.continuity.run_drill``
and prints its report with the times: RTO (restore start to the retrieval query
answering), and the drill as a whole (backup, restore, checks, offline verification).
Run: .venv/bin/python benchmarks/drill_rto.py [--entries 1000000 --data-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import tempfile
import time
from pathlib import Path

from sovra.config import load_settings
from sovra.continuity import run_drill
from sovra.data.values import CollectionSpec
from sovra.identity import ensure_first_admin
from sovra.instance import Instance, open_instance
from sovra.keys import Share
from sovra.ledger import entry as entries
from sovra.ledger.merkle import leaf_hash_list
from sovra.ledger.storage import LedgerStore
from sovra.policy import Classification

BATCH = 10_000
DOCS = [b"Staff receive twenty-five days of annual leave each calendar year.",
        b"Travel expenses are reimbursed within thirty days of the claim.",
        b"Remote work needs the line manager's written approval."]


def _documents(instance: Instance) -> None:
    ensure_first_admin(instance)
    admin = next(p.principal_id for p in instance.identity.list_principals()
                 if "admin" in p.roles)
    caller = instance.identity.caller_for(admin, via="bench")
    instance.data.create_collection(caller, CollectionSpec(
        id="hr", owner="HR", purpose="policies", subject_categories=("employees",),
        data_categories=("contact",), retention_days=365, jurisdiction="EU-ES",
        ceiling=Classification.SECRET))
    for n, body in enumerate(DOCS):
        instance.data.ingest(caller, "hr", f"doc-{n}.txt", body)


def _entries(instance: Instance, count: int) -> None:
    store = LedgerStore(instance.engine)
    first = instance.ledger.size
    prefix = entries.prepare("bench", "bench.event", "bench/thing", "success", None)
    for start in range(first, first + count, BATCH):
        n = min(BATCH, first + count - start)
        bodies = entries.seal_many([prefix] * n, start, entries.format_time(time.time()))
        hashes = leaf_hash_list(bodies)
        store.insert_entries([(start + i, hashes[i], bodies[i], "bench.event", "bench",
                               "bench/thing") for i in range(n)])


def _volume(db: Path, megabytes: int) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE bench_blobs (id INTEGER PRIMARY KEY, body BLOB)")
    for i in range(megabytes):
        conn.execute("INSERT INTO bench_blobs VALUES (?, ?)", (i, os.urandom(1 << 20)))
    conn.commit()
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--data-mb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        settings = load_settings(data_dir=Path(tmp) / "data", checkpoint_interval_s=0.0)
        instance = open_instance(settings)
        dealt: list[Share] = []
        instance.keys.init(threshold=1, shares=1, deliver=dealt.extend, actor="bench")
        _documents(instance)
        start = time.perf_counter()
        _entries(instance, args.entries)
        instance.close()
        _volume(settings.data_dir / "sovra.db", args.data_mb)
        build_s = time.perf_counter() - start
        instance = open_instance(settings)
        try:
            instance.keys.submit_share(dealt[0].token())
            start = time.perf_counter()
            report = run_drill(instance, actor="bench", shares=[dealt[0].token()])
            drill_s = time.perf_counter() - start
            size = instance.ledger.size
        finally:
            instance.close()
        db_mb = (settings.data_dir / "sovra.db").stat().st_size / 2**20
    print(json.dumps({
        "benchmark": "drill_rto", "ledger_entries": size, "database_mb": round(db_mb, 1),
        "build_s": round(build_s, 1), "rto_s": report.rto_s, "rto_target_s": 300,
        "rpo_s": report.rpo_s, "drill_s": round(drill_s, 1), "passed": report.passed,
        "checks": {c.name: c.passed for c in report.checks},
        "machine": platform.machine(), "cpus": os.cpu_count(),
    }, indent=1))


if __name__ == "__main__":
    main()
