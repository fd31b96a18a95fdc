"""Durable appends per second with 1, 16 and 256 concurrent writers, SQLite and PostgreSQL.

For each database, measured in the same run against a fresh database:

* baseline: the direct way to make one event durable without the ledger: one
  ``INSERT`` and one ``COMMIT`` per event (SQLAlchemy Core, same table, same durability
  settings: SQLite WAL with synchronous=FULL, PostgreSQL with fsync on), from the same
  number of threads, each committing on its own connection;
* ledger: ``Ledger.append`` (canonical JSON, leaf hash, group commit, in-memory tree),
  each call returning only after its batch committed.

``ratio`` = ledger appends/s ÷ baseline inserts/s at the same concurrency. PostgreSQL
runs on a throwaway loopback server (``sovra.store.local_postgres``). Prints one JSON
object. Targets (issue 2): ≥ 20,000/s with 256 writers on SQLite, ≥ 10,000/s on
PostgreSQL.

    .venv/bin/python benchmarks/ledger_append.py                 # quick (~1 min)
    .venv/bin/python benchmarks/ledger_append.py --scale 3       # longer runs
    .venv/bin/python benchmarks/ledger_append.py --backends sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, insert

from sovra.config import load_settings
from sovra.ledger import Ledger
from sovra.ledger.merkle import leaf_hash
from sovra.store import make_engine, upgrade
from sovra.store.local_postgres import local_postgres
from sovra.store.tables.ledger import ledger_entries

WRITERS = (1, 16, 256)
# Appends per configuration at --scale 1 (kept short: the machine is shared).
PER_CONFIG = {1: 300, 16: 3_000, 256: 30_000}


def run_threads(writers: int, total: int, work: Callable[[int, int], None]) -> float:
    """Run ``work(writer, i)`` ``total`` times over ``writers`` threads; returns ops/s."""
    per = max(1, total // writers)
    barrier = threading.Barrier(writers + 1)

    def loop(w: int) -> None:
        barrier.wait()
        for i in range(per):
            work(w, i)

    threads = [threading.Thread(target=loop, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return per * writers / (time.perf_counter() - start)


def baseline(engine: Engine, writers: int, total: int) -> float:
    counter = iter(range(10**12))
    lock = threading.Lock()
    body = b'{"action":"data.ingest","actor":"user:alice","details":{"bytes":1234}}'

    def one(_w: int, _i: int) -> None:
        with lock:
            seq = next(counter)
        with engine.begin() as conn:
            conn.execute(insert(ledger_entries).values(
                seq=seq, leaf_hash=leaf_hash(body), body=body, action="data.ingest",
                actor="user:alice", resource="collection:c1"))

    return run_threads(writers, total, one)


def ledger_rate(ledger: Ledger, writers: int, total: int) -> float:
    def one(w: int, i: int) -> None:
        ledger.append(f"user:w{w}", "data.ingest", "collection:c1", "success",
                      {"doc": f"d-{i}", "bytes": 1234})

    return run_threads(writers, total, one)


def fsync_latency_ms(directory: Path, samples: int = 50) -> float:
    """Median latency of write(4 KiB) + fsync here: the floor of any durable commit."""
    path = directory / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    times = []
    try:
        for _ in range(samples):
            os.write(fd, b"x" * 4096)
            start = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return round(sorted(times)[len(times) // 2] * 1000, 3)


def measure(url_for: Callable[[], str], data_dir: Path, scale: float) -> dict[str, object]:
    results: dict[str, object] = {}
    for writers in WRITERS:
        total = int(PER_CONFIG[writers] * scale)
        base_engine = make_engine(url_for())
        upgrade(base_engine)
        base = baseline(base_engine, writers, min(total, 3_000))
        base_engine.dispose()

        url = url_for()
        settings = load_settings(data_dir=data_dir / f"w{writers}", database_url=url,
                                 checkpoint_interval_s=0.0)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        upgrade(engine)
        ledger = Ledger.open(engine, settings)
        try:
            before = resource.getrusage(resource.RUSAGE_SELF)
            rate = ledger_rate(ledger, writers, total)
            after = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            ledger.close()
            engine.dispose()
        done = max(1, total // writers) * writers
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        results[f"writers_{writers}"] = {
            "baseline_commits_per_s": round(base), "ledger_appends_per_s": round(rate),
            "ratio": round(rate / base, 2), "appends": total,
            # Whole-process CPU (writer thread, callers, driver) and voluntary context
            # switches per append during the ledger run: what the GIL-bound limit is.
            "ledger_cpu_us_per_append": round(cpu / done * 1e6, 1),
            "ledger_voluntary_switches_per_append": round(
                (after.ru_nvcsw - before.ru_nvcsw) / done, 2)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    report: dict[str, object] = {"benchmark": "ledger_append",
                                 "python": platform.python_version(),
                                 "cpu_count": os.cpu_count(),
                                 "batch_max": load_settings().ledger_batch_max,
                                 "batch_wait_ms": load_settings().ledger_batch_wait_ms}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        report["fsync_median_ms_before"] = fsync_latency_ms(root)
        report["load_average_before"] = os.getloadavg()[0]
        if "sqlite" in backends:
            made = iter(range(1000))
            report["sqlite"] = measure(lambda: f"sqlite:///{root / f'db{next(made)}.sqlite'}",
                                       root / "sqlite", args.scale)
        if "postgresql" in backends:
            with local_postgres() as server:
                report["postgresql"] = measure(server.create_database, root / "pg",
                                               args.scale)
        report["fsync_median_ms_after"] = fsync_latency_ms(root)
        report["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
