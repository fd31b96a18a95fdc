"""Three ``sovra up`` processes on one PostgreSQL append to one ledger at once.

The ledger must keep one sequence, with no gaps and no forks, whichever process appends
(ADR 0108); every acknowledged write is in it; each tree size is signed at most once; and
the auditor's path (``sovra ledger export`` then ``sovra ledger verify``) passes.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from sovra.store.local_postgres import LocalPostgres
from tests.cluster.cluster import cli, sovra_cluster
from tests.e2e.server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

THREADS_PER_PROCESS = 4
CREATES_PER_THREAD = 12


def _create_principals(server: Server, tag: str, acked: list[str], failures: list[str]
                       ) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as http:
        for i in range(CREATES_PER_THREAD):
            principal = f"p-{tag}-{i}"
            response = http.post("/identity/principals",
                                 json={"principal_id": principal, "clearance": "internal"})
            if response.status_code == 201:
                acked.append(principal)
            else:
                failures.append(f"{server.url} {principal}: {response.status_code} "
                                f"{response.text[:300]}")


def test_three_processes_append_one_gapless_sequence(
        tmp_path: Path, postgres_server: LocalPostgres) -> None:
    database_url = postgres_server.create_database()
    data_dir = tmp_path / "data"
    acked: list[str] = []
    failures: list[str] = []
    with sovra_cluster(data_dir, database_url) as servers:
        threads = [threading.Thread(target=_create_principals,
                                    args=(server, f"{n}-{t}", acked, failures))
                   for n, server in enumerate(servers) for t in range(THREADS_PER_PROCESS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert failures == [], "\n".join(failures[:10])
    assert len(acked) == len(servers) * THREADS_PER_PROCESS * CREATES_PER_THREAD

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            seqs = [int(s) for s in conn.execute(
                text("SELECT seq FROM ledger_entries ORDER BY seq")).scalars()]
            created = {str(r) for r in conn.execute(text(
                "SELECT resource FROM ledger_entries WHERE action = 'identity.principal.create'"
            )).scalars()}
            sizes = list(conn.execute(text("SELECT tree_size FROM ledger_checkpoints"))
                         .scalars())
    finally:
        engine.dispose()
    assert seqs == list(range(len(seqs))), "the sequence has gaps"
    missing = [p for p in acked if not any(p in r for r in created)]
    assert missing == [], f"acknowledged but not in the ledger: {missing[:10]}"
    assert len(sizes) == len(set(sizes))

    archive = tmp_path / "ledger.tar"
    exported = cli(data_dir, database_url, "ledger", "export", str(archive))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    verified = cli(data_dir, database_url, "ledger", "verify", str(archive), "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    result = json.loads(verified.stdout)
    assert result["valid"] is True and result["problems"] == []
