"""Server time of the console's dashboard and ledger explorer pages over a large ledger.

Fills a real embedded instance (SQLite file) with ``--entries`` ledger entries (one a
millisecond apart, mostly ``policy.decision`` from 97 analysts, a few console logins),
signs a checkpoint over them, logs an administrator into the console in process
(Starlette's TestClient: no socket, so the time measured is the server's), and times
``--requests`` requests of each page, reporting p50 and p95 in milliseconds:

* dashboard: seal, ledger, approvals, models, bundles, policy, continuity (each section
  decided and recorded, as the API would);
* explorer_newest: the newest page, no filter;
* explorer_principal: one analyst's entries (a filter matching 1 row in 97);
* explorer_rare_action: ``console.*`` (1 row in 100 000), so every page is a full window
  with few matches: the bounded-scan worst case;
* explorer_cursor: a page deep in the log by keyset cursor (``before``);
* explorer_time: a one-minute range in the middle of the log (binary search by time);
* entry_verified: one entry with its inclusion proof verified against the checkpoint;
* baseline: ``GET /healthz`` through the same app, in the same run.

    .venv/bin/python benchmarks/console_pages.py                    # 100 000 entries
    .venv/bin/python benchmarks/console_pages.py --entries 1000000  # recorded figure
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.config import load_settings
from sovra.instance import open_instance
from sovra.ledger import entry as entries
from sovra.ledger import merkle
from sovra.ledger.storage import LedgerStore

CHUNK = 20_000
START = 1_780_000_000.0  # entry times: START + seq milliseconds


def _fields(i: int) -> tuple[str, str, str, str, dict[str, object]]:
    if i % 100_000 == 11:
        return (f"user:analyst{i % 97}", "console.login", "console", "success",
                {"client_ip": "10.0.0.1"})
    return (f"user:analyst{i % 97}", "policy.decision", f'Document::"doc-{i:08d}"',
            "allowed" if i % 5 else "denied",
            {"action": "documents.read", "policies": ["analyst-reads"], "reasons": [],
             "client_ip": f"10.0.{i % 256}.{i % 199}"})


def fill(data_dir: Path, count: int) -> None:
    settings = load_settings(data_dir=data_dir, checkpoint_interval_s=0.0)
    inst = open_instance(settings)
    start = inst.ledger.size
    inst.close()
    store = LedgerStore(open_instance(settings, migrate=False).engine)
    for first in range(start, start + count, CHUNK):
        rows = []
        for seq in range(first, min(first + CHUNK, start + count)):
            actor, action, resource, outcome, details = _fields(seq)
            body = entries.seal(entries.prepare(actor, action, resource, outcome, details),
                                seq, entries.format_time(START + seq / 1000))
            rows.append((seq, merkle.leaf_hash(body), body, action, actor, resource))
        store.insert_entries(rows)


def timed(client: TestClient, path: str, count: int) -> dict[str, float]:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:300]}")
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sovra-console-") as tmp:
        data_dir = Path(tmp) / "data"
        began = time.perf_counter()
        fill(data_dir, args.entries)
        filled_s = time.perf_counter() - began
        inst = open_instance(load_settings(data_dir=data_dir, checkpoint_interval_s=0.0))
        try:
            inst.identity.create_principal("bench", "root", roles=["admin"],
                                           clearance="secret")
            key = inst.identity.create_api_key("bench", "root").token
            inst.ledger.sign_checkpoint()
            client = TestClient(create_app(inst))
            login = client.get("/console/login")
            token = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert token is not None
            client.post("/console/login", data={"csrf": token.group(1), "api_key": key})
            size = inst.ledger.size
            middle = datetime.fromtimestamp(START + size / 2000, UTC)
            since = middle.strftime("%Y-%m-%dT%H:%M")
            until = datetime.fromtimestamp(START + size / 2000 + 60, UTC).strftime(
                "%Y-%m-%dT%H:%M")
            pages: dict[str, Callable[[], str]] = {
                "baseline": lambda: "/healthz",
                "dashboard": lambda: "/console/",
                "explorer_newest": lambda: "/console/ledger",
                "explorer_principal": lambda: "/console/ledger?principal=user:analyst5",
                "explorer_rare_action": lambda: "/console/ledger?action=console.*",
                "explorer_cursor": lambda: f"/console/ledger?before={size // 3}",
                "explorer_time": lambda: f"/console/ledger?since={since}&until={until}",
                "entry_verified": lambda: f"/console/ledger/{size // 2}",
            }
            results = {name: timed(client, path(), args.requests)
                       for name, path in pages.items()}
        finally:
            inst.close()
    print(json.dumps({
        "benchmark": "console_pages", "entries": args.entries, "requests": args.requests,
        "fill_s": round(filled_s, 1), "results": results,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }, indent=2))


if __name__ == "__main__":
    main()
