"""The HTTP surface: seal status and unsealing without a credential, sealing with one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.identity import ensure_first_admin
from sovra.instance import Instance, open_instance
from sovra.keys import Share
from tests.keys.conftest import deal


@pytest.fixture
def served(instance: Instance) -> Iterator[tuple[TestClient, Instance, list[Share], str]]:
    """A server process's view: initialised elsewhere, started sealed."""
    shares = deal(instance)
    admin_key = ensure_first_admin(instance)
    assert admin_key is not None
    server = open_instance(instance.settings)
    try:
        with TestClient(create_app(server)) as client:
            yield client, server, shares, admin_key
    finally:
        server.close()


def test_unseal_over_http_one_custodian_at_a_time(served: tuple[TestClient, Instance,
                                                                list[Share], str]) -> None:
    client, server, shares, _ = served
    status = client.get("/sys/seal-status").json()
    assert status["sealed"] is True and status["threshold"] == 3 and status["progress"] == 0
    assert client.get("/healthz").status_code == 200  # health answers while sealed
    for expected, share in enumerate(shares[:2], start=1):
        body = client.post("/sys/unseal", json={"share": share.token()}).json()
        assert body["progress"] == expected and body["sealed"] is True
    body = client.post("/sys/unseal", json={"share": shares[4].token()}).json()
    assert body["sealed"] is False
    server.keys.create_keyring("c1")
    assert server.keys.decrypt("c1", "o", server.keys.encrypt("c1", "o", b"ok")) == b"ok"


def test_bad_shares_are_400_with_the_reason(served: tuple[TestClient, Instance,
                                                          list[Share], str]) -> None:
    client, _, shares, _ = served
    client.post("/sys/unseal", json={"share": shares[0].token()})
    duplicate = client.post("/sys/unseal", json={"share": shares[0].token()})
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["type"] == "ShareError"
    assert "duplicate" in duplicate.json()["error"]["message"]
    garbage = client.post("/sys/unseal", json={"share": "hello"})
    assert garbage.status_code == 400 and "not a Sovra key share" in garbage.text
    reset = client.post("/sys/unseal/reset").json()
    assert reset["progress"] == 0


def test_sealed_key_operations_answer_503(served: tuple[TestClient, Instance,
                                                        list[Share], str]) -> None:
    client, _, _, admin_key = served
    response = client.post("/keys/keyrings/c1/rotate",
                           headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "SealedError"


def test_seal_needs_a_credential_and_then_seals(served: tuple[TestClient, Instance,
                                                              list[Share], str]) -> None:
    client, server, shares, admin_key = served
    for share in shares[:3]:
        client.post("/sys/unseal", json={"share": share.token()})
    assert client.post("/sys/seal").status_code == 401
    assert server.keys.seal_status().sealed is False
    sealed = client.post("/sys/seal", headers={"Authorization": f"Bearer {admin_key}"})
    assert sealed.status_code == 200 and sealed.json()["sealed"] is True
    assert server.keys.seal_status().sealed is True


def test_keyring_routes(served: tuple[TestClient, Instance, list[Share], str]) -> None:
    client, server, shares, admin_key = served
    auth = {"Authorization": f"Bearer {admin_key}"}
    for share in shares[:3]:
        client.post("/sys/unseal", json={"share": share.token()})
    server.keys.create_keyring("c1")
    blob = server.keys.encrypt("c1", "o", b"x")
    assert client.post("/keys/keyrings/c1/rotate", headers=auth).json()["current_version"] == 2
    assert client.post("/keys/keyrings/c1/rewrap", headers=auth).json()["rewrapped"] == 1
    done = client.post("/keys/keyrings/c1/min-version", json={"version": 2}, headers=auth)
    assert done.json()["retired_versions"] == [1]
    status = client.get("/keys/status", headers=auth).json()
    assert status["keyrings"][0]["live_versions"] == [2]
    assert client.delete("/keys/keyrings/c1", headers=auth).json()["data_keys"] == 1
    gone = client.post("/keys/keyrings/c1/rotate", headers=auth)
    assert gone.status_code == 410 and gone.json()["error"]["type"] == "KeyDestroyedError"
    assert server.keys.keyring("c1").destroyed
    del blob
