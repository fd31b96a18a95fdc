"""Backup throughput against a plain ``cp -r`` of the same data directory (issue 17: >= 0.5x).

Builds a real embedded instance (custodian ceremony, unsealed), grows its database with
a table of incompressible rows (``--db-mb``) and adds stored files (``--files-mb``, as
policy packs and bundle objects under ``transfer/``), then alternates, ``--rounds``
times: ``cp -r`` of the data directory, and ``sovra.continuity.create_backup`` (SQLite
online backup of the database, SHA-256 and AES-256-GCM of every file, signed manifest,
fsync); the last backup is also restored once (``restore_s``: verify, decrypt, open and
check the restored log). Both read from the page cache (a warm-up copy runs first).
Prints JSON with the median seconds, MB/s and the ratio (backup / cp throughput).
Run: .venv/bin/python benchmarks/backup_throughput.py [--db-mb 512 --files-mb 256]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sovra.config import load_settings
from sovra.continuity import create_backup, restore
from sovra.instance import open_instance
from sovra.keys import Share


def _grow(data_dir: Path, db_mb: int, files_mb: int) -> int:
    conn = sqlite3.connect(data_dir / "sovra.db")
    conn.execute("CREATE TABLE bench_blobs (id INTEGER PRIMARY KEY, body BLOB)")
    chunk = 1 << 20
    for i in range(db_mb):
        conn.execute("INSERT INTO bench_blobs VALUES (?, ?)", (i, os.urandom(chunk)))
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    folder = data_dir / "transfer" / "policies" / ("ab" * 32)
    folder.mkdir(parents=True)
    per_file = 16
    for i in range(max(1, files_mb // per_file)):
        (folder / f"object-{i}.bin").write_bytes(os.urandom(per_file * chunk))
    return sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-mb", type=int, default=512)
    parser.add_argument("--files-mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        instance = open_instance(load_settings(data_dir=data_dir, checkpoint_interval_s=0.0))
        try:
            dealt: list[Share] = []
            instance.keys.init(threshold=1, shares=1, deliver=dealt.extend, actor="bench")
            size = _grow(data_dir, args.db_mb, args.files_mb)
            subprocess.run(["cp", "-r", str(data_dir), str(root / "warm")], check=True)
            shutil.rmtree(root / "warm")
            cp_s, backup_s = [], []
            for n in range(args.rounds):
                target = root / f"cp-{n}"
                start = time.perf_counter()
                subprocess.run(["cp", "-r", str(data_dir), str(target)], check=True)
                subprocess.run(["sync", "-f", str(target)], check=True)  # backups fsync
                cp_s.append(time.perf_counter() - start)
                shutil.rmtree(target)
                dest = root / f"backups-{n}"
                start = time.perf_counter()
                made = create_backup(instance, actor="bench", dest=dest)
                backup_s.append(time.perf_counter() - start)
                if n == args.rounds - 1:  # one restore of the last backup, for the record
                    start = time.perf_counter()
                    restore(made.path, root / "restored",
                            trusted=instance.ledger.checkpoints.verifier,
                            shares=[s.token() for s in dealt], checkpoint=None, actor="bench")
                    restore_s = time.perf_counter() - start
                shutil.rmtree(dest)
        finally:
            instance.close()
    mb = size / 2**20
    cp_med, backup_med = statistics.median(cp_s), statistics.median(backup_s)
    print(json.dumps({
        "benchmark": "backup_throughput", "data_mb": round(mb, 1),
        "files_in_backup": made.files, "rounds": args.rounds,
        "cp_r_s": [round(s, 3) for s in cp_s], "backup_s": [round(s, 3) for s in backup_s],
        "cp_r_mb_per_s": round(mb / cp_med, 1), "backup_mb_per_s": round(mb / backup_med, 1),
        "ratio_backup_to_cp": round(cp_med / backup_med, 3), "target_ratio": 0.5,
        "restore_s": round(restore_s, 3), "restore_mb_per_s": round(mb / restore_s, 1),
        "machine": platform.machine(), "cpus": os.cpu_count(),
    }, indent=1))


if __name__ == "__main__":
    main()
