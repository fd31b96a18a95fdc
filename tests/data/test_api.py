"""The data routes over HTTP against the real app: auth, multipart ingest, search, erasure."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.data import verify_certificate
from sovra.identity import ensure_first_admin
from sovra.instance import Instance
from tests.data.files import make_pdf

COLLECTION = {
    "id": "contracts", "owner": "Legal", "purpose": "supplier contracts",
    "subject_categories": ["supplier contacts"], "data_categories": ["contact details"],
    "retention_days": 3650, "jurisdiction": "EU-DE", "ceiling": "confidential",
}


@pytest.fixture
def client(data: Instance) -> TestClient:
    return TestClient(create_app(data))


@pytest.fixture
def admin(data: Instance) -> dict[str, str]:
    token = ensure_first_admin(data)
    assert token is not None
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def analyst(data: Instance) -> dict[str, str]:
    data.identity.create_principal("test", "bob", roles=["analyst"], clearance="internal")
    return {"Authorization": f"Bearer {data.identity.create_api_key('test', 'bob').token}"}


def test_collection_ingest_search_read(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/data/collections", json=COLLECTION, headers=admin).status_code == 201
    pdf = make_pdf(["Payment terms are sixty days after delivery.", "Signed in Berlin."])
    response = client.post("/data/collections/contracts/documents", headers=admin,
                           files={"file": ("terms.pdf", pdf, "application/pdf")},
                           data={"classification": "internal"})
    assert response.status_code == 201, response.text
    ingested = response.json()
    assert ingested["status"] == "ingested" and ingested["classification"] == "internal"
    hits = client.post("/data/search", json={"query": "payment terms delivery", "k": 2},
                       headers=admin).json()
    assert hits[0]["document_id"] == ingested["document_id"] and hits[0]["page"] == 1
    document = client.get(f"/data/documents/{ingested['document_id']}", headers=admin).json()
    assert document["name"] == "terms.pdf" and "sixty days" in document["text"]


def test_bad_upload_is_a_clear_per_file_error(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/data/collections", json=COLLECTION, headers=admin)
    response = client.post("/data/collections/contracts/documents", headers=admin,
                           files={"file": ("broken.pdf", b"%PDF-1.4\n1 0 obj", "application/pdf")})
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "ParseError"


def test_unauthenticated_and_unauthorized(client: TestClient, admin: dict[str, str],
                                          analyst: dict[str, str]) -> None:
    assert client.get("/data/collections").status_code == 401
    client.post("/data/collections", json=COLLECTION, headers=admin)
    erase = client.post("/data/erasures", json={"subject": "x@example.com"}, headers=analyst)
    assert erase.status_code == 403
    hold = client.post("/data/collections/contracts/holds", json={"reason": "case"},
                       headers=analyst)
    assert hold.status_code == 403


def test_holds_and_erasure_over_http(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/data/collections", json=COLLECTION, headers=admin)
    client.post("/data/collections/contracts/documents", headers=admin,
                files={"file": ("c.txt", b"Contact: jan.kowalski@example.pl for invoices.")})
    hold = client.post("/data/collections/contracts/holds", json={"reason": "audit 2025"},
                       headers=admin).json()
    withheld = client.post("/data/erasures", json={"subject": "jan.kowalski@example.pl"},
                           headers=admin).json()
    assert withheld["erased"] == [] and len(withheld["withheld"]) == 1
    released = client.delete(f"/data/collections/contracts/holds/{hold['id']}", headers=admin)
    assert released.status_code == 200 and released.json()["released_at"] is not None
    response = client.post("/data/erasures", json={"subject": "JAN.KOWALSKI@example.pl"},
                           headers=admin)
    certificate = response.json()
    assert len(certificate["erased"]) == 1
    import json

    assert verify_certificate(json.dumps(certificate))["id"] == certificate["id"]
    docs = client.get("/data/collections/contracts/documents", headers=admin).json()
    assert docs == []
