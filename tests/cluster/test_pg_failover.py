"""The PostgreSQL primary killed under load (issue 22, ADR 0109).

Real pg_auto_failover (a monitor and two keepers, the standby cloned by pg_basebackup
and replicating synchronously), one real ``sovra up`` on the libpq multi-host URL, four
clients writing. The primary's keeper and server are SIGKILLed together: requests fail
cleanly (an answer with a message, never a dropped connection) while the standby is
promoted, then succeed again through the same process; every acknowledged write is in
the new primary, and the ledger, exported from it, verifies against its checkpoint.
One failover, bounded: the scenario gives up after two minutes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from sovra.store.engine import make_engine
from tests.cluster.cluster import cli
from tests.cluster.failover import AFTER, CLIENTS, failover_under_load
from tests.cluster.pg_ha import available

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres,
              pytest.mark.skipif(not available(),
                                 reason="pg_auto_failover is not installed; run "
                                        "scripts/install-system-deps.sh")]


def test_primary_killed_under_load_fails_cleanly_then_resumes_losing_nothing(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with failover_under_load(data_dir) as (pair, database_url, server, outcome):
        states = pair.states()
        ready = httpx.get(server.url + "/readyz", timeout=10)
        listening = False  # the change feed's LISTEN connection found the new primary
        deadline = time.monotonic() + 15
        while not listening and time.monotonic() < deadline:
            listening = "sovra_change_feed_listening 1.0" in httpx.get(
                server.url + "/metrics", timeout=10).text
            time.sleep(0.2)
        engine = make_engine(database_url)
        try:
            with engine.connect() as conn:
                port = conn.execute(text("SELECT inet_server_port()")).scalar_one()
                stored = set(conn.execute(text(
                    "SELECT principal_id FROM identity_principals "
                    "WHERE principal_id LIKE 'ha-%'")).scalars())
                recorded = set(conn.execute(text(
                    "SELECT resource FROM ledger_entries "
                    "WHERE action = 'identity.principal.create' "
                    "AND resource LIKE 'principal:ha-%'")).scalars())
                seqs = list(conn.execute(text("SELECT seq FROM ledger_entries ORDER BY seq"))
                            .scalars())
        finally:
            engine.dispose()
        archive = tmp_path / "ledger.tar"
        exported = cli(data_dir, database_url, "ledger", "export", str(archive))
        verified = cli(data_dir, database_url, "ledger", "verify", str(archive), "--json")

    # The standby took over, and Sovra's reconnect found it.
    assert states["node2"] == ("wait_primary", "wait_primary"), states
    assert port == pair.nodes[1].port
    assert ready.status_code == 200, ready.text
    assert listening
    # Every client resumed: AFTER acknowledged writes each, sent after the kill.
    assert outcome.lost == [], outcome.lost[:5]
    assert outcome.failover_s is not None
    # Failing cleanly: during the failover the process answered with a status and a
    # message (503, the database is unreachable), it did not drop connections.
    assert outcome.transport_errors == [], outcome.transport_errors[:5]
    assert outcome.refused, "the kill was not noticed by any request"
    assert {status for status, _ in outcome.refused} <= {503}, [
        r for r in outcome.refused if r[0] != 503][:5]
    assert all(json.loads(body)["error"]["message"] for _, body in outcome.refused)
    # Nothing acknowledged was lost (synchronous replication): every 201 is in the
    # promoted standby's tables and ledger, and the sequence has no gap.
    assert len(outcome.acked) >= CLIENTS * AFTER
    assert set(outcome.acked) <= stored
    assert {f"principal:{p}" for p in outcome.acked} <= recorded
    assert seqs == list(range(len(seqs)))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["valid"] is True
