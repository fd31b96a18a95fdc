"""Issue 13: hostile values at the edge and bounded lock waits, through the real server on
both profiles (SQLite and PostgreSQL).

A NUL byte, a lone surrogate or an integer beyond 64 bits in a path, query parameter or
JSON value must fail only its own request, with a 4xx naming the parameter, never a 500
and never another client's request (on PostgreSQL one NUL in a ledger batch used to fail
the whole batch: every concurrent request answered 503). A lock held by another session
must make a request answer 503 with ``Retry-After`` within the busy timeout, on
PostgreSQL as on SQLite, instead of stalling for as long as the lock is held.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from sovra.store.local_postgres import LocalPostgres
from tests.e2e.server import Server, sovra_up

pytestmark = pytest.mark.e2e

# The bound the servers under test wait for a lock (SOVRA_DB_BUSY_TIMEOUT_S).
BUSY_TIMEOUT_S = 1.0
# A client that gives up long after the bound: a request still waiting then is stalled.
CLIENT_TIMEOUT_S = 20.0


@dataclass
class ProfileServer:
    server: Server
    profile: str
    database_url: str  # sqlite:///file or postgresql+psycopg://...


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ProfileServer]:
    """One real ``sovra up`` per profile, like ``db_url`` (tests/conftest.py) but for
    the module: a real SQLite file, or a fresh database on the session's PostgreSQL."""
    data_dir: Path = tmp_path_factory.mktemp("hostile") / "data"
    env = {"SOVRA_DB_BUSY_TIMEOUT_S": str(BUSY_TIMEOUT_S), "SOVRA_CHECKPOINT_INTERVAL_S": "0"}
    if request.param == "postgresql":
        postgres: LocalPostgres = request.getfixturevalue("postgres_server")
        url = postgres.create_database()
        env["SOVRA_DATABASE_URL"] = url
    else:
        url = f"sqlite:///{data_dir / 'sovra.db'}"
    with sovra_up(data_dir, extra_env=env) as server:
        yield ProfileServer(server, request.param, url)


@pytest.fixture(scope="module")
def http(served: ProfileServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.server.url, headers=served.server.headers(),
                      timeout=CLIENT_TIMEOUT_S) as client:
        yield client


# (method, path with raw query, JSON body as bytes or None, the parameter's location)
HOSTILE: list[tuple[str, str, bytes | None, str]] = [
    ("GET", "/data/documents/%00", None, "path.document_id"),
    ("DELETE", "/data/documents/a%00b", None, "path.document_id"),
    ("GET", "/identity/apikeys?principal_id=%00", None, "query.principal_id"),
    ("DELETE", "/identity/apikeys/%00", None, "path.key_id"),
    ("GET", "/identity/principals/%00", None, "path.principal_id"),
    ("GET", "/identity/principals?kind=user%00", None, "query.kind"),
    ("GET", "/policy/versions/99999999999999999999999", None, "path.version"),
    ("POST", "/policy/versions/-99999999999999999999999/approve", None, "path.version"),
    ("DELETE", "/data/collections/x/holds/99999999999999999999999", None, "path.hold_id"),
    ("GET", "/ledger/entries/99999999999999999999999", None, "path.seq"),
    ("GET", "/ledger/entries/1?tree_size=99999999999999999999999", None, "query.tree_size"),
    ("GET", "/ledger/consistency?first=1&second=-99999999999999999999999", None,
     "query.second"),
    ("POST", "/data/collections/x/holds", b'{"reason": "\\u0000"}', "body.reason"),
    ("POST", "/data/search", b'{"query": "q", "collections": ["\\u0000"]}',
     "body.collections.0"),
    ("POST", "/identity/apikeys", b'{"principal_id": "\\udfff"}', "body.principal_id"),
    ("POST", "/identity/principals", b'{"principal_id": "a\\ud800b"}', "body.principal_id"),
    ("POST", "/identity/principals", b'{"principal_id": "p", "roles": ["\\u0000"]}',
     "body.roles.0"),
    # The OpenAI surface: the chat hot path (served before FastAPI's router) and the rest.
    ("POST", "/v1/chat/completions",
     b'{"model": "\\u0000", "messages": [{"role": "user", "content": "hi"}]}', "body.model"),
    ("POST", "/v1/chat/completions",
     b'{"model": "m", "messages": [{"role": "user", "content": "a\\u0000"}]}',
     "body.messages.0.content"),
    ("POST", "/v1/embeddings", b'{"model": "m", "input": ["\\u0000"]}', "body.input.0"),
    ("GET", "/v1/sovra/trace/%00", None, "path.request_id"),
    ("POST", "/keys/keyrings/k/min-version", b'{"version": 99999999999999999999999}',
     "body.version"),
]


def _send(http: httpx.Client, method: str, path: str, body: bytes | None) -> httpx.Response:
    headers = {"content-type": "application/json"} if body is not None else {}
    return http.request(method, path, content=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "where"), HOSTILE,
                         ids=[f"{m} {p}" for m, p, _, _ in HOSTILE])
def test_hostile_value_fails_its_own_request_with_4xx_naming_it(
        http: httpx.Client, method: str, path: str, body: bytes | None, where: str) -> None:
    response = _send(http, method, path, body)
    assert response.status_code in (400, 422), response.text
    message = response.json()["error"]["message"]
    assert where in message, message
    assert any(word in message for word in ("NUL", "surrogate", "64-bit")), message
    # The server is unharmed: the next ordinary request succeeds.
    assert http.get("/identity/principals").status_code == 200


def test_nul_requests_in_a_loop_fail_no_other_client(served: ProfileServer) -> None:
    """One client sends NUL-bearing requests without pause while eight others make
    ordinary requests (each records a policy decision in the ledger, so they share
    group-commit batches with the hostile ones): every ordinary request succeeds."""
    server = served.server
    stop = threading.Event()
    hostile_statuses: list[int] = []
    legit_statuses: list[int] = []
    lock = threading.Lock()

    def hostile() -> None:
        bad = [entry for entry in HOSTILE if "%00" in entry[1] or b"\\u0000" in (entry[2] or b"")]
        with httpx.Client(base_url=server.url, headers=server.headers(),
                          timeout=CLIENT_TIMEOUT_S) as client:
            while not stop.is_set():
                for method, path, body, _ in bad:
                    status = _send(client, method, path, body).status_code
                    with lock:
                        hostile_statuses.append(status)

    def legit() -> None:
        with httpx.Client(base_url=server.url, headers=server.headers(),
                          timeout=CLIENT_TIMEOUT_S) as client:
            for _ in range(25):
                status = client.get("/identity/principals").status_code
                with lock:
                    legit_statuses.append(status)

    attacker = threading.Thread(target=hostile)
    attacker.start()
    clients = [threading.Thread(target=legit) for _ in range(8)]
    try:
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
    finally:
        stop.set()
        attacker.join()
    assert len(legit_statuses) == 8 * 25
    failed = [s for s in legit_statuses if s != 200]
    assert not failed, (f"{len(failed)} of {len(legit_statuses)} ordinary requests "
                        f"failed: {sorted(set(failed))}")
    assert hostile_statuses and set(hostile_statuses) <= {400, 422}, set(hostile_statuses)


@pytest.mark.parametrize("table", ["ledger_entries", "identity_principals"])
def test_lock_held_by_another_session_answers_503_within_the_bound(
        served: ProfileServer, http: httpx.Client, table: str) -> None:
    """Another session holds a lock every request needs (the ledger's table: each
    request records its policy decision; a room's table: the route reads it). The
    request answers 503 with Retry-After after the busy timeout, not when the lock is
    released (the client's own timeout is 20 times the bound)."""
    with _holding_lock(served, table):
        response = http.get("/identity/principals")
        assert response.status_code == 503, response.text
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["type"] in ("StorageBusyError",
                                                    "LedgerUnavailableError")
    # Once the lock is gone the same request succeeds: nothing stayed stuck.
    assert http.get("/identity/principals").status_code == 200


@contextlib.contextmanager
def _holding_lock(served: ProfileServer, table: str) -> Iterator[None]:
    """A second session, outside the server, holding a write (SQLite) or an exclusive
    (PostgreSQL) lock on ``table`` until the block ends."""
    url = served.database_url
    if served.profile == "sqlite":
        # SQLite locks the whole file: a write transaction blocks every writer.
        lite = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None,
                               timeout=10)
        try:
            lite.execute("BEGIN IMMEDIATE")
            lite.execute(f"DELETE FROM {table} WHERE 0")
            yield
            lite.execute("ROLLBACK")
        finally:
            lite.close()
    else:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as pg:
            pg.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield
            pg.rollback()


def test_upload_with_nul_in_its_file_name_is_never_a_5xx(http: httpx.Client) -> None:
    """The upload route parses its own multipart body (ADR 0406), so the edge check does
    not see its fields: the storage boundary answers for it (NUL that PostgreSQL cannot
    store is the caller's InvalidInputError), and the server goes on serving."""
    created = http.post("/data/collections", json={
        "id": "nul-upload", "owner": "t", "purpose": "t", "subject_categories": ["t"],
        "data_categories": ["t"], "retention_days": 1, "jurisdiction": "EU"})
    assert created.status_code in (201, 409), created.text
    boundary = "sovra-test-boundary"
    body = (f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="a\x00b.txt"\r\n'
            "Content-Type: text/plain\r\n\r\nhello\r\n"
            f"--{boundary}--\r\n").encode()
    response = http.post("/data/collections/nul-upload/documents", content=body,
                         headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code < 500, response.text
    assert http.get("/data/collections/nul-upload/documents").status_code == 200
