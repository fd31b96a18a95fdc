"""Per-object envelope encryption through ``instance.keys`` vs bare AES-GCM per object.

    .venv/bin/python benchmarks/keys_envelope.py              # 1000 objects of 4 KiB
    .venv/bin/python benchmarks/keys_envelope.py --objects 10000 --size 65536

Prints JSON. Each ``encrypt`` makes a fresh DEK, wraps it under the keyring's KEK and
stores it (one INSERT on the embedded SQLite database); each ``decrypt`` reads the DEK
row, unwraps it and opens the object. The baseline, in the same run, is one bare
``AESGCM.encrypt``/``decrypt`` per object with a fixed key: the difference is the price
of a key per object, its custody, and the database round trip.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sovra.config import load_settings
from sovra.instance import open_instance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    payload = os.urandom(args.size)
    key, nonce = AESGCM(AESGCM.generate_key(256)), os.urandom(12)

    start = time.perf_counter()
    sealed = [key.encrypt(nonce, payload, b"%d" % i) for i in range(args.objects)]
    bare_enc = time.perf_counter() - start
    start = time.perf_counter()
    for i, blob in enumerate(sealed):
        key.decrypt(nonce, blob, b"%d" % i)
    bare_dec = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        inst = open_instance(load_settings(data_dir=Path(tmp) / "data",
                                           checkpoint_interval_s=0.0))
        try:
            inst.keys.init(threshold=1, shares=1, deliver=lambda _shares: None)
            inst.keys.create_keyring("bench")
            start = time.perf_counter()
            blobs = [inst.keys.encrypt("bench", f"o{i}", payload) for i in range(args.objects)]
            env_enc = time.perf_counter() - start
            start = time.perf_counter()
            for i, blob in enumerate(blobs):
                inst.keys.decrypt("bench", f"o{i}", blob)
            env_dec = time.perf_counter() - start
        finally:
            inst.close()

    n = args.objects
    print(json.dumps({
        "benchmark": "keys_envelope", "objects": n, "object_bytes": args.size,
        "bare_encrypt_per_s": round(n / bare_enc), "bare_decrypt_per_s": round(n / bare_dec),
        "envelope_encrypt_per_s": round(n / env_enc),
        "envelope_decrypt_per_s": round(n / env_dec),
        "envelope_encrypt_us": round(env_enc / n * 1e6, 1),
        "envelope_decrypt_us": round(env_dec / n * 1e6, 1),
        "encrypt_ratio": round(bare_enc / env_enc, 4),
        "decrypt_ratio": round(bare_dec / env_dec, 4),
    }, indent=2))


if __name__ == "__main__":
    main()
