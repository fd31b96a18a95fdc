"""Import verification of a bundle with one big target vs ``sha256sum`` of the same file.

Builds a signed bundle (uncompressed tar) around one target of ``--size`` bytes, then
measures, best of ``--repeat`` with a warm page cache for both:

* baseline: ``sha256sum`` over the target file;
* verify: ``stage_bundle`` (defensive unpacking, TUF metadata verification, length and
  SHA-256 of the target while it is copied into the private staging folder), in a
  child process so its peak RSS is measured alone;
* import: the full ``TransferService.import_bundle`` (verification, ledger entries,
  fsync and atomic activation into the data directory) once, for context.

Prints one JSON object; ``ratio`` is verify throughput / sha256sum throughput, and
``ratio_vs_hashlib`` the same against plain hashlib SHA-256 over the file (coreutils'
``sha256sum`` may not use the CPU's SHA extensions that OpenSSL uses).
Everything is written under a temporary folder that is removed at the end.

    .venv/bin/python benchmarks/bundle_import.py                # 256 MiB
    .venv/bin/python benchmarks/bundle_import.py --size 2GiB    # the recorded figure
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

_UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "B": 1}


def parse_size(text: str) -> int:
    for unit, factor in _UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def make_target(path: Path, size: int) -> None:
    block = os.urandom(64 << 20)
    with path.open("wb") as out:
        left = size
        while left:
            chunk = block[: min(left, len(block))]
            out.write(chunk)
            left -= len(chunk)


def build(work: Path, target: Path, *, compress: bool = False) -> tuple[Path, bytes]:
    from sovra.transfer import BundleSpec, build_bundle, init_repository, keygen, load_signer

    keys = work / "keys"
    for name in ("k1", "k2"):
        keygen(name, keys)
    signers = [load_signer(keys / f"{n}.key") for n in ("k1", "k2")]
    now = datetime.now(UTC)
    repo = work / "repo"
    init_repository(repo, [s.public_key for s in signers], 2, signers, now)
    spec = BundleSpec.model_validate({"name": "bench", "targets": [{
        "kind": "model", "path": target, "component": "bench", "version": "1",
        "manifest": {"source": "benchmark", "licence": "none", "intended_use": "benchmark"}}]})
    bundle = work / ("bench.tar.gz" if compress else "bench.tar")
    build_bundle(spec, repo, signers, bundle, now, compress=compress)
    return bundle, (repo / "roots" / "1.root.json").read_bytes()


def time_sha256sum(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
    return time.perf_counter() - start


def time_hashlib(path: Path) -> float:
    """A second baseline: OpenSSL SHA-256 through hashlib, 1 MiB reads, no copy."""
    start = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return time.perf_counter() - start


def _verify_child(bundle: str, root: bytes, staging: str,
                  out: multiprocessing.Queue[tuple[float, int, int]]) -> None:
    from sovra.transfer import UnpackLimits
    from sovra.transfer.staging import discard, stage_bundle
    from sovra.transfer.verify import TrustState

    start = time.perf_counter()
    staged = stage_bundle(Path(bundle), Path(staging), TrustState(root),
                          now=datetime.now(UTC), grace=timedelta(0), limits=UnpackLimits())
    elapsed = time.perf_counter() - start
    discard(staged.folder)
    out.put((elapsed, staged.bytes_verified,
             resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))


def time_verify(bundle: Path, root: bytes, staging: Path) -> tuple[float, int, int]:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[tuple[float, int, int]] = ctx.Queue()
    child = ctx.Process(target=_verify_child, args=(str(bundle), root, str(staging), queue))
    child.start()
    elapsed, verified, rss = queue.get()
    child.join()
    return float(elapsed), int(verified), int(rss)


def time_full_import(work: Path, bundle: Path, root: bytes) -> float:
    from sovra.config import load_settings
    from sovra.instance import open_instance

    instance = open_instance(load_settings(data_dir=work / "site", checkpoint_interval_s=0.0))
    try:
        instance.identity.create_principal("system", "bench", roles=["admin"])
        caller = instance.identity.caller_for("bench")
        instance.transfer.trust_root(root, caller)
        start = time.perf_counter()
        instance.transfer.import_bundle(bundle, caller)
        return time.perf_counter() - start
    finally:
        instance.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=256 * 2**20,
                        help="target size, e.g. 256MiB (default) or 2GiB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None,
                        help="parent folder for the temporary files (default: system tmp)")
    parser.add_argument("--skip-full-import", action="store_true")
    parser.add_argument("--gzip", action="store_true", help="a gzip bundle instead of tar")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sovra-bundle-bench-", dir=args.dir))
    try:
        target = work / "model.bin"
        make_target(target, args.size)
        bundle, root = build(work, target, compress=args.gzip)
        time_sha256sum(target)  # warm the page cache for both sides
        # Alternate the two so that load from other processes hits both alike.
        baselines, hashlib_runs, runs = [], [], []
        for _ in range(args.repeat):
            baselines.append(time_sha256sum(target))
            hashlib_runs.append(time_hashlib(target))
            runs.append(time_verify(bundle, root, work / "staging"))
        baseline = min(baselines)
        hashlib_s = min(hashlib_runs)
        verify = min(r[0] for r in runs)
        peak_rss = max(r[2] for r in runs)
        mib = args.size / 2**20
        full, full_error = None, None
        if not args.skip_full_import:
            try:
                full = time_full_import(work, bundle, root)
            except Exception as exc:  # report the verification figure regardless
                full_error = f"{type(exc).__name__}: {exc}"

        print(json.dumps({
            "benchmark": "bundle_import",
            "target_bytes": args.size,
            "gzip": args.gzip,
            "repeat": args.repeat,
            "sha256sum_s": round(baseline, 3),
            "sha256sum_mib_s": round(mib / baseline, 1),
            "verify_s": round(verify, 3),
            "verify_mib_s": round(mib / verify, 1),
            "ratio": round(baseline / verify, 3),
            "hashlib_s": round(hashlib_s, 3),
            "hashlib_mib_s": round(mib / hashlib_s, 1),
            "ratio_vs_hashlib": round(hashlib_s / verify, 3),
            "verify_peak_rss_mib": round(peak_rss / 2**20, 1),
            "full_import_s": round(full, 3) if full is not None else None,
            "full_import_mib_s": round(mib / full, 1) if full else None,
            "full_import_error": full_error,
        }, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
