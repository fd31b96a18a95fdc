"""A change committed through one process reaches another's caches within a second.

Process B has just accepted a key (and cached it); the key is revoked through process A;
B must refuse it within a second (PostgreSQL LISTEN/NOTIFY, ``sovra.store.notify``), not
after its five-second cache lifetime. The same for a principal disabled through A, and
for a model approved through A (B's registry cache lives two seconds).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sovra.store.local_postgres import LocalPostgres
from tests.cluster.cluster import cli, sovra_cluster
from tests.e2e.server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

WITHIN_S = 1.0  # the requirement (issue 22), not a measurement


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_server: LocalPostgres
            ) -> Iterator[tuple[Path, str, list[Server]]]:
    data_dir = tmp_path_factory.mktemp("cluster") / "data"
    database_url = postgres_server.create_database()
    with sovra_cluster(data_dir, database_url, count=2) as servers:
        yield data_dir, database_url, servers


@pytest.fixture
def pair(cluster: tuple[Path, str, list[Server]]) -> list[Server]:
    return cluster[2]


def _refused_within(server: Server, key: str) -> list[int]:
    """The statuses B answered with ``key`` until it refused it or the time ran out."""
    seen: list[int] = []
    deadline = time.monotonic() + WITHIN_S
    while time.monotonic() < deadline:
        status = httpx.get(server.url + "/identity/principals", headers=server.headers(key),
                           timeout=5).status_code
        seen.append(status)
        if status == 401:
            break
        time.sleep(0.05)
    return seen


def _key_for(server: Server, principal: str) -> tuple[str, str]:
    made = httpx.post(server.url + "/identity/apikeys", headers=server.headers(),
                      json={"principal_id": principal, "label": "cluster"}, timeout=10)
    assert made.status_code == 201, made.text
    body = made.json()
    return str(body["key_id"]), str(body["key"])


def test_a_key_revoked_through_one_process_is_refused_by_another(pair: list[Server]) -> None:
    a, b = pair
    key_id, key = _key_for(a, "admin")
    # B verifies the key once: it is now in B's cache.
    assert httpx.get(b.url + "/identity/principals", headers=b.headers(key),
                     timeout=10).status_code == 200
    revoked = httpx.delete(a.url + f"/identity/apikeys/{key_id}", headers=a.headers(),
                           timeout=10)
    assert revoked.status_code == 200, revoked.text
    seen = _refused_within(b, key)
    assert seen[-1] == 401, f"B still accepted the revoked key after {WITHIN_S} s: {seen}"


def test_a_principal_disabled_through_one_process_is_refused_by_another(
        cluster: tuple[Path, str, list[Server]]) -> None:
    data_dir, database_url, (a, b) = cluster
    # A key for another person is made by the owner on the instance's machine (issue 13).
    made = cli(data_dir, database_url, "principal", "create", "auditor-x", "--clearance",
               "internal", api_key=a.admin_key)
    assert made.returncode == 0, made.stdout + made.stderr
    keyed = cli(data_dir, database_url, "apikey", "create", "auditor-x", api_key=a.admin_key)
    assert keyed.returncode == 0, keyed.stdout + keyed.stderr
    key = next(line.strip() for line in keyed.stdout.splitlines()
               if line.strip().startswith("sk-sovra-") and "_" in line)
    # B verifies the key once (cached), whatever policy then decides for the request.
    assert httpx.get(b.url + "/identity/principals", headers=b.headers(key),
                     timeout=10).status_code != 401
    disabled = httpx.post(a.url + "/identity/principals/auditor-x/disable",
                          headers=a.headers(), timeout=10)
    assert disabled.status_code == 200, disabled.text
    seen = _refused_within(b, key)
    assert seen[-1] == 401, f"B still accepted the disabled principal's key: {seen}"


def _approver_key(data_dir: Path, database_url: str, admin_key: str) -> str:
    """The first approver, made by the owner with the CLI (tests.e2e.server does the same
    for a single instance)."""
    made = cli(data_dir, database_url, "principal", "create", "approver-x", "--role",
               "approver", "--clearance", "secret", api_key=admin_key)
    assert made.returncode == 0, made.stdout + made.stderr
    keyed = cli(data_dir, database_url, "apikey", "create", "approver-x", api_key=admin_key)
    assert keyed.returncode == 0, keyed.stdout + keyed.stderr
    return next(line.strip() for line in keyed.stdout.splitlines()
                if line.strip().startswith("sk-sovra-") and "_" in line)


def test_a_model_approved_through_one_process_is_served_by_another(
        cluster: tuple[Path, str, list[Server]]) -> None:
    data_dir, database_url, (a, b) = cluster
    approver = _approver_key(data_dir, database_url, a.admin_key)
    registered = httpx.post(a.url + "/v1/sovra/models", headers=a.headers(), timeout=10,
                            json={"id": "cluster-model", "locality": "on_premises",
                                  "sha256": "cd" * 32, "source": "test", "licence": "test",
                                  "ceiling": "internal",
                                  "upstream_url": "http://127.0.0.1:9/v1"})
    assert registered.status_code == 201, registered.text

    def listed() -> set[str]:
        answer = httpx.get(b.v1 + "/models", headers=b.headers(), timeout=10)
        assert answer.status_code == 200, answer.text
        return {m["id"] for m in answer.json()["data"]}

    assert "cluster-model" not in listed()  # B has just cached the registry
    approved = httpx.post(a.url + "/v1/sovra/models/cluster-model/approve",
                          headers=a.headers(approver), json={}, timeout=10)
    assert approved.status_code == 200, approved.text
    deadline = time.monotonic() + WITHIN_S
    seen = False
    while not seen and time.monotonic() < deadline:
        seen = "cluster-model" in listed()
        time.sleep(0.05)
    assert seen, f"B did not list the model approved through A within {WITHIN_S} s"
