"""Measured RPO of continuous archiving (issue 17; ADR 0801): Litestream on a real instance.

Starts an embedded instance with ``SOVRA_ARCHIVE_DIR`` semantics (``Archiver``), then,
``--samples`` times: appends one ledger entry (acknowledged = durable locally) and polls
the replica with a point-in-time restore of the latest state until that entry is there.
The lag from the acknowledgement to the entry being restorable from the replica is the
data a crash of the whole machine at that moment would lose: the RPO. Prints JSON with
the configured sync interval and the lag's median, p95 and maximum (``--interval``).
Run: .venv/bin/python benchmarks/archive_rpo.py [--interval 1.0 --samples 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from sovra.config import load_settings
from sovra.continuity.archive import Archiver, restore_at
from sovra.errors import StorageError
from sovra.instance import open_instance


def _size(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0])
    finally:
        conn.close()


def _lag(replica: Path, scratch: Path, size: int, acked: float) -> float:
    while True:
        out = scratch / f"probe-{time.monotonic_ns()}.db"
        try:
            if _size(restore_at(replica, out)) >= size:
                return time.monotonic() - acked
        except (StorageError, sqlite3.Error):
            pass
        finally:
            out.unlink(missing_ok=True)
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        replica, scratch = root / "archive", root / "scratch"
        scratch.mkdir()
        settings = load_settings(data_dir=root / "data", checkpoint_interval_s=0.0,
                                 archive_dir=replica, archive_sync_interval_s=args.interval)
        inst = open_instance(settings)
        archiver = Archiver.start(inst, actor="bench")
        lags = []
        try:
            _lag(replica, scratch, inst.ledger.size, time.monotonic())  # first snapshot
            for i in range(args.samples):
                inst.ledger.append("bench", "bench.rpo", f"sample/{i}", "success")
                lags.append(_lag(replica, scratch, inst.ledger.size, time.monotonic()))
        finally:
            archiver.stop(inst, actor="bench")
            inst.close()
    lags.sort()
    print(json.dumps({
        "benchmark": "archive_rpo", "tool": "litestream", "sync_interval_s": args.interval,
        "samples": len(lags), "rpo_median_s": round(statistics.median(lags), 3),
        "rpo_p95_s": round(lags[int(0.95 * (len(lags) - 1))], 3),
        "rpo_max_s": round(lags[-1], 3), "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }, indent=1))


if __name__ == "__main__":
    main()
