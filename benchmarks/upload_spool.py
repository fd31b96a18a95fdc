"""The cost of receiving an upload through the encrypted spool (ADR 0406).

Measures, in one run, on the same bytes (a 50 MiB file by default, the default limit):
  * baseline_plain_tempfile: what Starlette did: write the bytes in 64 KiB pieces to an
    unnamed temporary file, then read them back whole;
  * baseline_aesgcm: AES-256-GCM over the same bytes in 64 KiB segments, sealing and
    opening, with no file (the crypto floor);
  * spool: ``EncryptedSpool`` (write in 64 KiB pieces, flush every 1 MiB as the route
    does, finish, read back), into the same kind of unnamed file.

Prints JSON with the best of ``--rounds`` wall times in ms, MiB/s, and the spool's ratio
to each baseline.
Run: .venv/bin/python benchmarks/upload_spool.py [--mib 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sovra.data.uploads import SEGMENT_BYTES, EncryptedSpool

PIECE = 64 * 1024
FLUSH_EVERY = 16  # pieces: the route seals and writes each 1 MiB received


def plain_tempfile(data: bytes, directory: Path) -> bytes:
    with tempfile.TemporaryFile(dir=directory) as f:
        for start in range(0, len(data), PIECE):
            f.write(data[start:start + PIECE])
        f.seek(0)
        return f.read()


def aesgcm_only(data: bytes, _directory: Path) -> bytes:
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    prefix = os.urandom(7)
    sealed = [aead.encrypt(prefix + i.to_bytes(5, "big"), data[s:s + SEGMENT_BYTES], None)
              for i, s in enumerate(range(0, len(data), SEGMENT_BYTES))]
    return b"".join(aead.decrypt(prefix + i.to_bytes(5, "big"), c, None)
                    for i, c in enumerate(sealed))


def spool(data: bytes, directory: Path) -> bytes:
    s = EncryptedSpool(directory)
    try:
        for n, start in enumerate(range(0, len(data), PIECE)):
            s.write(data[start:start + PIECE])
            if n % FLUSH_EVERY == FLUSH_EVERY - 1:
                s.flush()
        s.finish()
        return s.read()
    finally:
        s.close()


def best_ms(fn: Callable[[bytes, Path], bytes], data: bytes, directory: Path,
            rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn(data, directory)
        best = min(best, time.perf_counter() - start)
        if out != data:
            raise SystemExit(f"{fn.__name__} did not give the bytes back")
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = os.urandom(args.mib << 20)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        results = {name: best_ms(fn, data, directory, args.rounds) for name, fn in (
            ("baseline_plain_tempfile", plain_tempfile), ("baseline_aesgcm", aesgcm_only),
            ("spool", spool))}
    print(json.dumps({
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "mib": args.mib, "rounds": args.rounds,
        "best_ms": {k: round(v, 1) for k, v in results.items()},
        "mib_per_s": {k: round(args.mib / (v / 1000), 1) for k, v in results.items()},
        "spool_vs_plain_tempfile": round(results["spool"] / results["baseline_plain_tempfile"],
                                         2),
        "spool_vs_aesgcm": round(results["spool"] / results["baseline_aesgcm"], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
