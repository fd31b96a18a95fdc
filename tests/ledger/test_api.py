"""The ledger's HTTP routes, through the real app and the real auth dependency."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.instance import Instance
from sovra.ledger import merkle
from sovra.ledger import note as notes
from sovra.ledger.witness import cosign


@pytest.fixture
def client(instance: Instance) -> TestClient:
    return TestClient(create_app(instance))


@pytest.fixture
def auditor(instance: Instance) -> dict[str, str]:
    instance.identity.create_principal("test", "aud", roles=["auditor"])
    token = instance.identity.create_api_key("test", "aud").token
    return {"Authorization": f"Bearer {token}"}


def _b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_routes_need_a_credential(client: TestClient) -> None:
    for path in ("/ledger/checkpoint", "/ledger/entries/0", "/ledger/consistency?first=0"):
        assert client.get(path).status_code == 401


def test_routes_need_the_auditor_role(instance: Instance, client: TestClient) -> None:
    instance.identity.create_principal("test", "dev", roles=["analyst"])
    token = instance.identity.create_api_key("test", "dev").token
    response = client.get("/ledger/checkpoint", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_checkpoint_entry_and_proofs(instance: Instance, client: TestClient,
                                     auditor: dict[str, str]) -> None:
    for i in range(9):
        instance.ledger.append("user:a", "data.ingest", "c", "success", {"i": i})
    instance.ledger.sign_checkpoint()
    response = client.get("/ledger/checkpoint", headers=auditor)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    checkpoint, _, _ = notes.open_checkpoint(response.text, instance.ledger.checkpoints.verifier)

    seq = checkpoint.size - 3
    got = client.get(f"/ledger/entries/{seq}", params={"tree_size": checkpoint.size},
                     headers=auditor)
    assert got.status_code == 200
    body = got.json()
    assert body["seq"] == seq and body["entry"]["seq"] == seq
    merkle.verify_inclusion(seq, checkpoint.size, base64.b64decode(body["leaf_hash"]),
                            _b64(body["inclusion_proof"]), checkpoint.root_hash)

    first = 4
    old_root = instance.ledger.root(first)
    proof = client.get("/ledger/consistency",
                       params={"first": first, "second": checkpoint.size}, headers=auditor)
    assert proof.status_code == 200
    merkle.verify_consistency(first, checkpoint.size, old_root, checkpoint.root_hash,
                              _b64(proof.json()["proof"]))


def test_out_of_range_requests_are_400(instance: Instance, client: TestClient,
                                       auditor: dict[str, str]) -> None:
    size = instance.ledger.size + 1000
    bad = client.get(f"/ledger/entries/{size}", headers=auditor)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "ProofError"
    bad = client.get("/ledger/consistency", params={"first": size, "second": 1},
                     headers=auditor)
    assert bad.status_code == 400


def test_post_a_cosignature(instance: Instance, client: TestClient,
                            auditor: dict[str, str]) -> None:
    instance.ledger.append("user:a", "data.ingest", "c", "success")
    note = instance.ledger.sign_checkpoint()
    witness = notes.Signer.generate("witness.example.org/w1", notes.COSIGNATURE_V1)
    cosigned = cosign(witness, instance.ledger.checkpoints.verifier, None, note, [], now=1000)
    response = client.post("/ledger/cosignatures", headers=auditor,
                           json={"note": cosigned.note, "witness_key": witness.verifier.vkey})
    assert response.status_code == 201, response.text
    assert response.json()["witness"] == "witness.example.org/w1"
    latest = client.get("/ledger/checkpoint", headers=auditor).text
    _, _, good = notes.open_checkpoint(latest, instance.ledger.checkpoints.verifier,
                                       [witness.verifier])
    assert good == [witness.verifier]


def test_post_a_forged_cosignature_is_refused(instance: Instance, client: TestClient,
                                              auditor: dict[str, str]) -> None:
    instance.ledger.append("user:a", "data.ingest", "c", "success")
    note = instance.ledger.sign_checkpoint()
    witness = notes.Signer.generate("witness.example.org/w1", notes.COSIGNATURE_V1)
    impostor = notes.Signer.generate("witness.example.org/w1", notes.COSIGNATURE_V1)
    cosigned = cosign(impostor, instance.ledger.checkpoints.verifier, None, note, [], now=1)
    response = client.post("/ledger/cosignatures", headers=auditor,
                           json={"note": cosigned.note, "witness_key": witness.verifier.vkey})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "NoteError"
