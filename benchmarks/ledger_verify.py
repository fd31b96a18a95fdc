"""Full offline verification of an export vs a bare SHA-256 loop over the same leaf bytes.

Builds an archive of ``--entries`` realistic entries (about 250 bytes each, as
``policy.decision`` events look) with a signed checkpoint every ``--checkpoint-every``,
writes it to a temporary folder, then measures in the same run (best of ``--repeat``):

* baseline: SHA-256 of every entry's bytes, nothing else, written the fastest way
  Python allows (``map`` over ``hashlib.sha256``; a list comprehension is also timed
  and the faster of the two is the baseline);
* verify_contents: ``sovra.ledger.verify.verify_contents`` on the archive already in
  memory (leaf hashes, the whole tree, every checkpoint's signature, root and
  consistency), in one process (the default) and with one worker process per core
  (``--workers 0``, ``sovra.ledger.parallel``);
* verify_archive: the same including reading and checking the tar file.

``ratio`` = baseline time / verification time (1.0 = as fast as hashing alone; the
target is at least 0.5). Prints one JSON object.

    .venv/bin/python benchmarks/ledger_verify.py                     # 200 000 entries
    .venv/bin/python benchmarks/ledger_verify.py --entries 1000000   # recorded figure
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sovra.ledger import entry as entries
from sovra.ledger import merkle
from sovra.ledger import note as notes
from sovra.ledger.archive import ArchivedCheckpoint, read_archive, write_archive
from sovra.ledger.parallel import default_workers
from sovra.ledger.tree import HashTree
from sovra.ledger.verify import verify_archive, verify_contents


def build_bodies(count: int) -> list[bytes]:
    prefix = [entries.prepare(f"user:analyst{i % 97}", "policy.decision",
                              f'Document::"doc-{i:08d}"', "allowed" if i % 5 else "denied",
                              {"action": "documents.read", "policies": ["analyst-reads"],
                               "reasons": [], "client_ip": f"10.0.{i % 256}.{i % 199}"})
              for i in range(min(count, 1000))]
    stamp = entries.format_time(1_790_000_000)
    return [entries.seal(prefix[i % len(prefix)], i, stamp) for i in range(count)]


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--checkpoint-every", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    bodies = build_bodies(args.entries)
    leaves = merkle.leaf_hashes(bodies)
    tree = HashTree()
    tree.extend_joined(leaves)
    signer = notes.Signer.generate("sovra.local/ledger/bench")
    sizes = [*range(args.checkpoint_every, args.entries, args.checkpoint_every), args.entries]
    checkpoints = [ArchivedCheckpoint(s, notes.sign_checkpoint(
        notes.Checkpoint(signer.name, s, tree.root(s)), signer)) for s in sizes]

    sha256, digest = hashlib.sha256, type(hashlib.sha256()).digest
    baseline_map = best(lambda: list(map(digest, map(sha256, bodies))), args.repeat)
    baseline_loop = best(lambda: [sha256(b).digest() for b in bodies], args.repeat)
    baseline = min(baseline_map, baseline_loop)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.tar"
        write_archive(path, log_vkey=signer.verifier.vkey, origin=signer.name, entries=bodies,
                      leaf_hashes=[leaves], checkpoints=checkpoints, cosignatures=[])
        contents = read_archive(path)
        result = verify_contents(contents, log_key=signer.verifier.vkey)
        assert result.valid, result.problems
        key = signer.verifier.vkey
        workers = default_workers(args.entries)
        one_core = best(lambda: verify_contents(contents, log_key=key, workers=1), args.repeat)
        in_memory = best(lambda: verify_contents(contents, log_key=key, workers=workers),
                         args.repeat)
        whole_one = best(lambda: verify_archive(path, log_key=key), args.repeat)
        whole = best(lambda: verify_archive(path, log_key=key, workers=workers), args.repeat)
        size = path.stat().st_size

    print(json.dumps({
        "benchmark": "ledger_verify", "python": platform.python_version(),
        "entries": args.entries, "checkpoints": len(sizes), "archive_bytes": size,
        "mean_entry_bytes": round(sum(map(len, bodies)) / len(bodies)),
        "baseline_sha256_s": round(baseline, 4),
        "baseline_sha256_list_comprehension_s": round(baseline_loop, 4),
        "baseline_sha256_map_s": round(baseline_map, 4),
        "cpu_count": os.cpu_count(), "workers": workers,
        "verify_contents_1_process_s": round(one_core, 4),
        "verify_contents_workers_s": round(in_memory, 4),
        "verify_archive_1_process_s": round(whole_one, 4),
        "verify_archive_workers_s": round(whole, 4),
        "entries_per_s_1_process": round(args.entries / one_core),
        "ratio_verify_contents_1_process": round(baseline / one_core, 3),
        "ratio_verify_contents_workers": round(baseline / in_memory, 3),
        "ratio_verify_archive_1_process": round(baseline / whole_one, 3),
        "ratio_verify_archive_workers": round(baseline / whole, 3),
        "target_ratio": 0.5,
    }, indent=2))


if __name__ == "__main__":
    main()
