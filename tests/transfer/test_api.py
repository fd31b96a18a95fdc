"""The /bundles routes: upload or server path, authorised by policy, two-person approve."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.instance import Instance
from tests.support.admin import bearer
from tests.transfer.conftest import Workshop


@pytest.fixture
def client(instance: Instance) -> Iterator[TestClient]:
    with TestClient(create_app(instance)) as test_client:
        yield test_client


def test_upload_import_two_person_and_status(instance: Instance, client: TestClient,
                                             workshop: Workshop) -> None:
    admin = bearer(instance, "alice", "admin")
    approver = bearer(instance, "bob", "approver")
    root = (workshop.repo / "roots" / "1.root.json").read_bytes()
    assert client.post("/bundles/trust", files={"root": ("1.root.json", root)}).status_code \
        == 401
    pinned = client.post("/bundles/trust", headers=admin, files={"root": ("1.root.json", root)})
    assert pinned.status_code == 200, pinned.text
    assert pinned.json() == {"root_version": 1}

    instance.transfer = type(instance.transfer)(
        instance.engine, instance.settings.model_copy(update={"bundle_two_person": True}),
        instance.ledger, instance.policy)
    bundle = workshop.build(compress=True)
    with bundle.open("rb") as handle:
        held = client.post("/bundles/import", headers=admin,
                           files={"bundle": (bundle.name, handle)})
    assert held.status_code == 200, held.text
    body = held.json()
    assert body["state"] == "awaiting_approval"
    assert len(body["sha256"]["targets"]) == 64
    incoming = instance.settings.data_dir / "transfer" / "incoming"
    assert list(incoming.iterdir()) == []  # the upload is not kept

    assert client.post(f"/bundles/{body['bundle_id']}/approve",
                       headers=admin).status_code == 403
    done = client.post(f"/bundles/{body['bundle_id']}/approve", headers=approver)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "activated"

    second = workshop.build()
    with second.open("rb") as handle:
        other = client.post("/bundles/import", headers=admin,
                            files={"bundle": (second.name, handle)}).json()
    rejected = client.post(f"/bundles/{other['bundle_id']}/reject", headers=approver,
                           json={"reason": "unexpected"})
    assert rejected.status_code == 204, rejected.text

    models = client.get("/bundles/models", headers=admin).json()
    assert [m["component"] for m in models] == ["tiny-model"]
    status = client.get("/bundles/status", headers=admin).json()
    assert status["versions"]["timestamp"] == 1
    assert status["awaiting_approval"] == []


def test_server_path_import_and_refusal(instance: Instance, client: TestClient,
                                        workshop: Workshop) -> None:
    admin = bearer(instance, "alice", "admin")
    root = (workshop.repo / "roots" / "1.root.json").read_bytes()
    client.post("/bundles/trust", headers=admin, files={"root": ("1.root.json", root)})
    bundle = workshop.build()
    ok = client.post("/bundles/import", headers=admin, data={"path": str(bundle)})
    assert ok.status_code == 200, ok.text
    again = client.post("/bundles/import", headers=admin, data={"path": str(bundle)})
    assert again.status_code == 422
    assert again.json()["error"]["type"] == "BundleVerificationError"
    neither = client.post("/bundles/import", headers=admin)
    assert neither.status_code == 400
