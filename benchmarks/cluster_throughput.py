"""Three ``sovra up`` processes behind HAProxy against one process alone (issue 22).

Both measured in the same run, on one throwaway PostgreSQL on loopback, with the same
clients: ``CLIENTS`` threads for ``SECONDS`` each, every request an authenticated
``POST /identity/principals`` (a policy decision, a database write and a ledger append,
the ledger's cross-process path included). Reported:

* ``requests_per_s``: answered 201s per second; ``ratio`` = three behind HAProxy ÷ one
  alone (target >= 1.0: coordination costs nothing visible).
* ``ledger_appends_per_s``: ledger entries added per second during the window, read from
  PostgreSQL (target: three >= 0.8x one).

    .venv/bin/python benchmarks/cluster_throughput.py [--seconds 15] [--clients 24]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cluster.cluster import haproxy, sovra_cluster

from sovra.store.local_postgres import local_postgres


def _ledger_size(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one())
    finally:
        engine.dispose()


def _load(url: str, key: str, clients: int, seconds: float, tag: str) -> dict[str, float]:
    done = [0] * clients
    failed = [0] * clients
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                          timeout=60) as http:
            i = 0
            while time.monotonic() < stop:
                answer = http.post("/identity/principals", json={
                    "principal_id": f"b-{tag}-{n}-{i}", "clearance": "internal"})
                i += 1
                if answer.status_code == 201:
                    done[n] += 1
                else:
                    failed[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"requests_per_s": round(sum(done) / elapsed, 1), "failed": sum(failed),
            "seconds": round(elapsed, 1)}


@contextlib.contextmanager
def _target(data_dir: Path, database_url: str, count: int) -> Iterator[tuple[str, str]]:
    with sovra_cluster(data_dir, database_url, count=count) as servers:
        if count == 1:
            yield servers[0].url, servers[0].admin_key
        else:
            with haproxy(servers) as url:
                yield url, servers[0].admin_key


def measure(count: int, clients: int, seconds: float) -> dict[str, float]:
    with local_postgres() as pg, tempfile.TemporaryDirectory() as tmp:
        database_url = pg.create_database()
        with _target(Path(tmp) / "data", database_url, count) as (url, key):
            _load(url, key, clients, 2.0, "warm")  # caches, connections, JIT of paths
            before = _ledger_size(database_url)
            result = _load(url, key, clients, seconds, "run")
            result["ledger_appends_per_s"] = round(
                (_ledger_size(database_url) - before) / result["seconds"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate one/three this many times (three first in even "
                             "rounds), so a change in the machine's load shows")
    args = parser.parse_args()
    runs: list[dict[str, object]] = []
    for round_ in range(args.rounds):
        order = (1, 3) if round_ % 2 == 0 else (3, 1)
        got = {count: measure(count, args.clients, args.seconds) for count in order}
        one, three = got[1], got[3]
        runs.append({
            "order": list(order), "one_process": one, "three_behind_haproxy": three,
            "ratio_requests": round(three["requests_per_s"] / one["requests_per_s"], 2),
            "ratio_ledger_appends": round(three["ledger_appends_per_s"]
                                          / one["ledger_appends_per_s"], 2),
            "load_average_after": round(os.getloadavg()[0], 1)})
    print(json.dumps({"clients": args.clients, "cpus": os.cpu_count(), "runs": runs},
                     indent=2))


if __name__ == "__main__":
    main()
