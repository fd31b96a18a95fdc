"""Full offline verification of an export vs a bare SHA-256 loop over the same leaf bytes.

Builds an archive of ``--entries`` realistic entries (about 250 bytes each, as
``policy.decision`` events look) with a signed checkpoint every ``--checkpoint-every``,
writes it to a temporary folder, then measures in the same run (best of ``--repeat``):

* baseline: SHA-256 of every entry's bytes, nothing else, written the fastest way
  Python allows (``map`` over ``hashlib.sha256``; a list comprehension is also timed
  and the faster of the two is the baseline);
* verify_contents: ``sovra.ledger.verify.verify_contents`` on the archive already in
  memory (leaf hashes, the whole tree, every checkpoint's signature, root and
  consistency), in one process and in ``processes`` processes (the default, one per
  usable CPU: ``sovra.ledger.parallel``, the parent plus forked children);
* verify_archive: the same including reading and checking the tar file.

``ratio`` = baseline time / verification time (1.0 = as fast as hashing alone; the
target is at least 0.5). The baseline runs in one process; every figure says how many
processes it used, and the CPU seconds of the parent and of its children, so the cost
of spreading the work is visible. Wall-clock times on a loaded machine mean little:
the load averages before and after are printed with them, and
``cpu_ratio_if_each_process_had_a_core`` (baseline CPU time / the busiest process's CPU
time) estimates the ratio on a machine with a free core per process; it is an estimate,
not the measured ``ratio``. Prints one JSON object.

    .venv/bin/python benchmarks/ledger_verify.py                     # 200 000 entries
    .venv/bin/python benchmarks/ledger_verify.py --entries 1000000   # recorded figure
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sovra.ledger import entry as entries
from sovra.ledger import merkle
from sovra.ledger import note as notes
from sovra.ledger.archive import ArchivedCheckpoint, read_archive, write_archive
from sovra.ledger.parallel import default_workers, usable_cpus
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


@dataclass(frozen=True)
class Run:
    wall: float
    parent_cpu: float
    children_cpu: float


def _cpu() -> tuple[float, float]:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def best(fn: Callable[[], object], repeat: int) -> Run:
    """The fastest of ``repeat`` runs, with the CPU time it took here and in children."""
    runs = []
    for _ in range(repeat):
        cpu = _cpu()
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        after = _cpu()
        runs.append(Run(wall, after[0] - cpu[0], after[1] - cpu[1]))
    return min(runs, key=lambda r: r.wall)


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

    load_before = os.getloadavg()
    sha256, digest = hashlib.sha256, type(hashlib.sha256()).digest
    baseline_map = best(lambda: list(map(digest, map(sha256, bodies))), args.repeat)
    baseline_loop = best(lambda: [sha256(b).digest() for b in bodies], args.repeat)
    fastest = min(baseline_map, baseline_loop, key=lambda r: r.wall)
    baseline = fastest.wall

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.tar"
        write_archive(path, log_vkey=signer.verifier.vkey, origin=signer.name, entries=bodies,
                      leaf_hashes=[leaves], checkpoints=checkpoints, cosignatures=[])
        contents = read_archive(path)
        key = signer.verifier.vkey
        processes = default_workers(args.entries)
        for workers in {1, processes}:
            result = verify_contents(contents, log_key=key, workers=workers)
            assert result.valid, result.problems
        runs = {
            "verify_contents_1_process": best(
                lambda: verify_contents(contents, log_key=key, workers=1), args.repeat),
            f"verify_contents_{processes}_processes": best(
                lambda: verify_contents(contents, log_key=key, workers=processes),
                args.repeat),
            "verify_archive_1_process": best(
                lambda: verify_archive(path, log_key=key, workers=1), args.repeat),
            f"verify_archive_{processes}_processes": best(
                lambda: verify_archive(path, log_key=key, workers=processes), args.repeat),
        }
        size = path.stat().st_size

    report: dict[str, object] = {
        "benchmark": "ledger_verify", "python": platform.python_version(),
        "entries": args.entries, "checkpoints": len(sizes), "archive_bytes": size,
        "mean_entry_bytes": round(sum(map(len, bodies)) / len(bodies)),
        "cpu_count": os.cpu_count(), "usable_cpus": usable_cpus(),
        "load_average_before": [round(x, 2) for x in load_before],
        "baseline_sha256_s": round(baseline, 4),
        "baseline_sha256_list_comprehension_s": round(baseline_loop.wall, 4),
        "baseline_sha256_map_s": round(baseline_map.wall, 4),
        "baseline_processes": 1,
        "default_processes": processes,
    }
    report["baseline_cpu_s"] = round(fastest.parent_cpu, 4)
    for name, run in runs.items():
        used = processes if name.endswith("_processes") else 1
        # The busiest process's CPU time bounds the wall time when every process has a
        # core of its own: an estimate for an idle machine, not the measured ratio.
        busiest = max(run.parent_cpu, run.children_cpu / (used - 1) if used > 1 else 0.0)
        report[name] = {"processes": used, "s": round(run.wall, 4),
                        "ratio": round(baseline / run.wall, 3),
                        "parent_cpu_s": round(run.parent_cpu, 4),
                        "children_cpu_s": round(run.children_cpu, 4),
                        "cpu_ratio_if_each_process_had_a_core": round(
                            fastest.parent_cpu / busiest, 3)}
    report["target_ratio"] = 0.5
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
