"""Custodian shares unseal one process, not the cluster (ADR 2201).

Two real ``sovra up`` processes on one PostgreSQL database, initialised with custodian
shares (2 of 3): shares submitted to one process unseal that process only; the other
stays sealed, and its /readyz says so (a load balancer keeps it out), until the
custodians submit to it as well. Nothing about a share or the root travels between the
processes through the database.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from sovra.store.local_postgres import LocalPostgres
from tests.e2e.server import sovra_command, sovra_up

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def _ready(url: str) -> tuple[int, str]:
    answer = httpx.get(url + "/readyz", timeout=10)
    return answer.status_code, answer.json()["checks"]["seal"]


def test_shares_unseal_the_process_they_are_given_to_only(
        tmp_path: Path, postgres_server: LocalPostgres) -> None:
    database_url = postgres_server.create_database()
    data, shares = tmp_path / "data", tmp_path / "custodians"
    env = {**os.environ, "SOVRA_DATA_DIR": str(data), "SOVRA_DATABASE_URL": database_url,
           "COLUMNS": "200"}
    done = subprocess.run([*sovra_command(), "init", "--shares", "3", "--threshold", "2",
                           "--share-dir", str(shares)], env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    admin_key = next(line.strip() for line in done.stdout.splitlines()
                     if line.strip().startswith("sk-sovra-"))
    files = sorted(shares.glob("sovra-share-*.txt"))
    extra = {"SOVRA_DATABASE_URL": database_url}
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(sovra_up(data, extra_env=extra, admin_key=admin_key))
        b = stack.enter_context(sovra_up(data, extra_env=extra, admin_key=admin_key))
        assert _ready(a.url) == (503, "sealed") and _ready(b.url) == (503, "sealed")
        for share in files[:2]:
            answer = httpx.post(a.url + "/sys/unseal", json={"share": share.read_text()},
                                timeout=30)
            assert answer.status_code == 200, answer.text
        assert _ready(a.url) == (200, "unsealed")
        assert _ready(b.url) == (503, "sealed")  # not by A's unseal, not later either
        for share in files[1:]:
            answer = httpx.post(b.url + "/sys/unseal", json={"share": share.read_text()},
                                timeout=30)
            assert answer.status_code == 200, answer.text
        assert _ready(b.url) == (200, "unsealed")
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = list(conn.execute(text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public'")).scalars())
            dumped = "".join(
                str(row) for table in tables
                for row in conn.execute(text(f'SELECT * FROM "{table}"')).all())
    finally:
        engine.dispose()
    for share in files:  # no share value was stored for the other process to read
        line = re.search(r"sovra-share-1:\S+", share.read_text())
        assert line is not None
        value = line.group(0).split(":")[4]
        assert len(value) == 64 and value not in dumped
