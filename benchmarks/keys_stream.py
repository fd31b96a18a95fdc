"""Streaming (STREAM, 1 MiB segments) vs one bare AES-256-GCM call over the same bytes.

    .venv/bin/python benchmarks/keys_stream.py                # 64 MiB, quick
    .venv/bin/python benchmarks/keys_stream.py --size 1GiB    # the recorded figure

Prints JSON. Baseline: ``AESGCM.encrypt``/``decrypt`` over the whole object in one call
(the fastest the library can go; needs the object and its ciphertext in memory).
Measured in the same run, best of ``--repeat``:

* ``memory``: sovra.keys.aead streams from an in-memory reader into a discarding sink, so
  the ratio isolates the segmenting, per-segment nonces and tags (issue 3 target: >= 0.8).
* ``files``: a child process streams a real file to a real file and back (page cache),
  reporting its peak RSS before (interpreter and imports) and after the work: the
  difference is a few segments whatever the object size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sovra.keys import aead

UNITS = {"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "B": 1}


def parse_size(text: str) -> int:
    upper = text.strip().upper()
    for unit, factor in UNITS.items():
        if upper.endswith(unit):
            return int(float(upper[: -len(unit)]) * factor)
    return int(upper)


class Sink(io.RawIOBase):
    """Counts and discards (so the baseline and the stream both end in memory only)."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        size = memoryview(b).nbytes  # type: ignore[arg-type]
        self.count += size
        return size


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_memory(size: int, segment: int, repeat: int) -> dict[str, float]:
    block = os.urandom(1 << 20)
    data = (block * (size // len(block) + 1))[:size]
    key = AESGCM(AESGCM.generate_key(256))
    nonce = os.urandom(12)
    header = aead.Header(1, os.urandom(16), segment, os.urandom(7))
    aad = b"benchmark"

    bare_ct = key.encrypt(nonce, data, None)
    bare_enc = _best(lambda: key.encrypt(nonce, data, None), repeat)
    bare_dec = _best(lambda: key.decrypt(nonce, bare_ct, None), repeat)

    stream_ct = io.BytesIO()
    aead.encrypt_stream(key, header, aad, io.BytesIO(data), stream_ct)
    body = stream_ct.getvalue()[aead.HEADER_BYTES:]
    stream_enc = _best(lambda: aead.encrypt_stream(key, header, aad, io.BytesIO(data),
                                                   Sink()), repeat)  # type: ignore[arg-type]
    stream_dec = _best(lambda: aead.decrypt_stream(key, header, aad, io.BytesIO(body),
                                                   Sink()), repeat)  # type: ignore[arg-type]
    mib = size / (1 << 20)
    return {
        "bare_encrypt_mib_s": round(mib / bare_enc, 1),
        "bare_decrypt_mib_s": round(mib / bare_dec, 1),
        "stream_encrypt_mib_s": round(mib / stream_enc, 1),
        "stream_decrypt_mib_s": round(mib / stream_dec, 1),
        "encrypt_ratio": round(bare_enc / stream_enc, 3),
        "decrypt_ratio": round(bare_dec / stream_dec, 3),
    }


def peak_rss_mib() -> float:
    """VmHWM of this process image (ru_maxrss would include the parent's peak at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child_files(path: str, segment: int) -> None:
    """Run in a fresh process: file -> encrypted file -> discarded plaintext; report RSS."""
    src = Path(path)
    key = AESGCM(AESGCM.generate_key(256))
    header = aead.Header(1, os.urandom(16), segment, os.urandom(7))
    enc_path = src.with_suffix(".enc")
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    with src.open("rb") as fin, enc_path.open("wb") as fout:
        aead.encrypt_stream(key, header, b"benchmark", fin, fout)
    enc_s = time.perf_counter() - start
    start = time.perf_counter()
    with enc_path.open("rb") as fin:
        got = aead.Header.decode(fin.read(aead.HEADER_BYTES))
        aead.decrypt_stream(key, got, b"benchmark", fin, Sink())  # type: ignore[arg-type]
    dec_s = time.perf_counter() - start
    enc_path.unlink()
    mib = src.stat().st_size / (1 << 20)
    print(json.dumps({"encrypt_mib_s": round(mib / enc_s, 1),
                      "decrypt_mib_s": round(mib / dec_s, 1),
                      "rss_before_mib": rss_before, "peak_rss_mib": peak_rss_mib()}))


def measure_files(size: int, segment: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "object.bin"
        block = os.urandom(1 << 20)
        with path.open("wb") as out:
            left = size
            while left > 0:
                out.write(block[: min(left, len(block))])
                left -= len(block)
        done = subprocess.run([sys.executable, __file__, "--child", str(path),
                               "--segment", str(segment)], capture_output=True, text=True,
                              check=True)
        result: dict[str, float] = json.loads(done.stdout)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="64MiB", help="object size (e.g. 64MiB, 1GiB)")
    parser.add_argument("--segment", type=int, default=aead.DEFAULT_SEGMENT_SIZE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_files(args.child, args.segment)
        return
    size = parse_size(args.size)
    files = measure_files(size, args.segment)  # first: the child must not fork a big parent
    memory = measure_memory(size, args.segment, args.repeat)
    print(json.dumps({
        "benchmark": "keys_stream", "size_bytes": size, "segment_bytes": args.segment,
        "repeat": args.repeat, "memory": memory, "files": files,
        "target_ratio": 0.8,
        "meets_target": min(memory["encrypt_ratio"], memory["decrypt_ratio"]) >= 0.8,
    }, indent=2))


if __name__ == "__main__":
    main()
