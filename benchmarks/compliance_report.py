"""The compliance report and ``sovra audit check`` over a period of N ledger entries,
each as a ratio to reading those entries once (the baseline), in the same run.

Fills a real embedded instance (SQLite file) with ``--entries`` entries in the period
(mostly ``policy.decision``, as a busy instance records them, with break-glass grants,
model use, backups among them), then measures, best of ``--repeat``:

* baseline: read every entry of the period once from the database (the store's own
  chunked reader, each body touched);
* report: ``sovra.compliance.report.generate`` (sign the checkpoint, scan, collect,
  prove every cited entry, sign, record);
* check: ``sovra.compliance.check.check_report`` on the report alone (proofs,
  signature, counts against the cited entries);
* check_export: the same with the ledger export (the archive read and verified, every
  count recounted over the whole log).

``ratio`` = measured time / baseline time (lower is better). Prints one JSON object.

    .venv/bin/python benchmarks/compliance_report.py                    # 100 000 entries
    .venv/bin/python benchmarks/compliance_report.py --entries 1000000  # recorded figure
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

from sovra.compliance.check import check_report
from sovra.compliance.report import generate
from sovra.config import load_settings
from sovra.instance import open_instance
from sovra.ledger import entry as entries
from sovra.ledger import merkle
from sovra.ledger.storage import LedgerStore

CHUNK = 20_000


def _fields(i: int) -> tuple[str, str, str, str, dict[str, object]]:
    if i % 50_000 == 7:
        return ("oncall", "lockbox.breakglass", f"lockbox/bg-{i}", "success",
                {"review_due": 0, "alert": True})
    if i % 10_000 == 3:
        return ("ops", "continuity.backup", f"continuity/backup/{i}", "success", {})
    if i % 1000 == 1:
        return (f"user:analyst{i % 97}", "ai.chat", "model/m1", "allowed", {"model": "m1"})
    return (f"user:analyst{i % 97}", "policy.decision", f'Document::"doc-{i:08d}"',
            "allowed" if i % 5 else "denied",
            {"action": "documents.read", "policies": ["analyst-reads"], "reasons": [],
             "client_ip": f"10.0.{i % 256}.{i % 199}"})


def fill(data_dir: Path, count: int, when: float) -> None:
    settings = load_settings(data_dir=data_dir, checkpoint_interval_s=0.0)
    inst = open_instance(settings)
    try:
        inst.ledger.append("ann", "models.approve", "model/m1", "success", {"sha256": "0" * 64})
        start = inst.ledger.size
    finally:
        inst.close()
    store = LedgerStore(open_instance(settings, migrate=False).engine)
    stamp = entries.format_time(when)
    for first in range(start, start + count, CHUNK):
        rows = []
        for seq in range(first, min(first + CHUNK, start + count)):
            actor, action, resource, outcome, details = _fields(seq)
            body = entries.seal(entries.prepare(actor, action, resource, outcome, details),
                                seq, stamp)
            rows.append((seq, merkle.leaf_hash(body), body, action, actor, resource))
        store.insert_entries(rows)


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        t0 = time.perf_counter()
        fill(data_dir, args.entries, now - 3600)
        fill_s = time.perf_counter() - t0
        inst = open_instance(load_settings(data_dir=data_dir, checkpoint_interval_s=0.0))
        try:
            store = LedgerStore(inst.engine)
            size = inst.ledger.size

            def read_once() -> int:
                return sum(len(r.body) for r in store.entries(0, size))

            baseline, _ = best(read_once, args.repeat)
            report_s, made = best(lambda: generate(inst, since=now - 86400, until=now + 60),
                                  args.repeat)
            doc = made.document  # type: ignore[attr-defined]
            export = Path(tmp) / "ledger.tar"
            inst.ledger.export(export)
        finally:
            inst.close()
        check_s, checked = best(lambda: check_report(doc), args.repeat)
        export_s, exported = best(lambda: check_report(doc, export=export), args.repeat)
        assert checked.valid and exported.valid  # type: ignore[attr-defined]
    print(json.dumps({
        "benchmark": "compliance_report", "entries": args.entries, "ledger_size": size,
        "claims": len(doc["claims"]), "cited_entries": len(doc["entries"]),
        "findings": len(doc["findings"]), "report_bytes": len(json.dumps(doc)),
        "fill_s": round(fill_s, 1),
        "baseline_read_s": round(baseline, 2),
        "report_s": round(report_s, 2), "report_ratio": round(report_s / baseline, 1),
        "check_s": round(check_s, 2), "check_ratio": round(check_s / baseline, 2),
        "check_export_s": round(export_s, 2),
        "check_export_ratio": round(export_s / baseline, 1),
        "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
        "python": platform.python_version(),
    }, indent=1))


if __name__ == "__main__":
    main()
