"""Ingest throughput with threat screening on and off (issue 18: on >= 0.9x off).

One run, one real embedded instance: a YARA pack (EICAR plus ``--rules`` rules that never
match) and a STIX bundle are imported through a signed bundle, then ``--docs`` text
documents are ingested in alternating blocks with the screen (SHA-256 indicators and
yara-x, before parsing) installed and removed, so both lines see the same load.
Prints JSON: documents/s and MB/s per line and the ratio on/off.
Run: .venv/bin/python benchmarks/threat_ingest_scan.py [--docs 200 --size 16384]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sovra.config import load_settings
from sovra.data.values import CollectionSpec
from sovra.instance import open_instance
from sovra.keys import Share
from sovra.policy import Classification
from sovra.transfer import (
    BundleSpec,
    build_bundle,
    init_repository,
    keygen,
    load_public_key,
    load_signer,
)
from yara_scan import rules_text

STIX = json.dumps({"type": "bundle", "id": "bundle--6f1c2a52-3c3e-4d0b-9b1a-5c2f8a7e0101",
                   "objects": [{
                       "type": "indicator", "spec_version": "2.1",
                       "id": "indicator--6f1c2a52-3c3e-4d0b-9b1a-5c2f8a7e0102",
                       "created": "2026-11-01T00:00:00.000Z",
                       "modified": "2026-11-01T00:00:00.000Z",
                       "pattern": "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
                       "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z"}]})


def signed_pack(folder: Path, rules: int) -> tuple[Path, bytes]:
    now = datetime.now(UTC)
    keys = folder / "keys"
    keys.mkdir()
    keygen("a", keys)
    signer = load_signer(keys / "a.key")
    repo = folder / "repo"
    init_repository(repo, [load_public_key(keys / "a.pub.json")], 1, [signer],
                    now - timedelta(days=1))
    (folder / "rules.yar").write_text(rules_text(rules))
    (folder / "ioc.stix.json").write_text(STIX)
    spec = BundleSpec.model_validate({"name": "threat-bench", "targets": [
        {"kind": "yara", "path": folder / "rules.yar", "component": "bench", "version": "1"},
        {"kind": "stix", "path": folder / "ioc.stix.json", "component": "ioc",
         "version": "1"}]})
    out = folder / "threat-bench.tar"
    build_bundle(spec, repo, [signer], out, now)
    return out, (repo / "roots" / "1.root.json").read_bytes()


def documents(count: int, size: int) -> list[bytes]:
    rng = random.Random(3)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
             for _ in range(3000)]
    docs = []
    for _ in range(count):
        text: list[str] = []
        length = 0
        while length < size:
            sentence = " ".join(rng.choices(words, k=12)) + ". "
            text.append(sentence)
            length += len(sentence)
        docs.append("".join(text)[:size].encode())
    return docs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--block", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundle, root = signed_pack(folder, args.rules)
        inst = open_instance(load_settings(data_dir=folder / "data", checkpoint_interval_s=0.0))
        try:
            inst.identity.create_principal("bench", "alice", roles=["admin"],
                                           clearance="secret")
            admin = inst.identity.caller_for("alice")
            dealt: list[Share] = []
            inst.keys.init(threshold=2, shares=3, deliver=dealt.extend, actor="bench")
            inst.transfer.trust_root(root, admin)
            inst.transfer.import_bundle(bundle, admin)
            status = inst.threat.status(admin)
            assert status.yara_files == 1 and status.indicators == 1, status
            inst.data.create_collection(admin, CollectionSpec(
                "bench", "SOC", "bench", ("staff",), ("reports",), 30, "EU",
                Classification.SECRET))
            docs = documents(args.docs, args.size)
            inst.data.ingest(admin, "bench", "warm.txt", docs[0] + b" warm")  # load models
            seconds = {"on": 0.0, "off": 0.0}
            counts = {"on": 0, "off": 0}
            for block, start in enumerate(range(0, len(docs), args.block)):
                line = "on" if block % 2 == 0 else "off"
                inst.data.use_screen(inst.threat.screen if line == "on" else None)
                began = time.perf_counter()
                for i, body in enumerate(docs[start:start + args.block], start):
                    inst.data.ingest(admin, "bench", f"doc{i}.txt", body)
                seconds[line] += time.perf_counter() - began
                counts[line] += len(docs[start:start + args.block])
        finally:
            inst.close()
    out: dict[str, object] = {}
    for line in ("off", "on"):
        out[f"scanning_{line}"] = {
            "documents": counts[line], "seconds": round(seconds[line], 3),
            "docs_per_s": round(counts[line] / seconds[line], 2),
            "mb_per_s": round(counts[line] * args.size / 1e6 / seconds[line], 3)}
    out["ratio_on_vs_off"] = round((counts["on"] / seconds["on"])
                                   / (counts["off"] / seconds["off"]), 3)
    out["setup"] = {"docs": args.docs, "size": args.size, "yara_rules": args.rules + 1,
                    "python": platform.python_version()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
