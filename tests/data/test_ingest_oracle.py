"""Ingest over HTTP reveals nothing about documents the caller cannot read (issue 13).

Before the fix, re-ingesting into a collection the caller could not read answered
``"status": "unchanged"`` with the hidden document's id when the guessed bytes were
exact, and ``"version": 2`` when only the name existed: a content and an existence
oracle. Now a caller who cannot read every document the collection may hold gets the
same answer whether or not anything of that name or content exists.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.identity import ensure_first_admin
from sovra.instance import Instance

COLLECTION = {
    "id": "payroll", "owner": "HR", "purpose": "salaries",
    "subject_categories": ["employees"], "data_categories": ["bank details"],
    "retention_days": 3650, "jurisdiction": "EU-DE", "ceiling": "confidential",
}
DOCUMENTS = "/data/collections/payroll/documents"
SALARIES = (b"Salary of Jan Kowalski from March: 7,200 EUR gross, paid to "
            b"IBAN DE89 3704 0044 0532 0130 00.")
SALARIES_GUESS_WRONG = SALARIES.replace(b"7,200", b"7,300")


@pytest.fixture
def client(data: Instance) -> TestClient:
    return TestClient(create_app(data))


@pytest.fixture
def admin(data: Instance, client: TestClient) -> dict[str, str]:
    token = ensure_first_admin(data)
    assert token is not None
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/data/collections", json=COLLECTION, headers=headers).status_code == 201
    return headers


@pytest.fixture
def dropbox(data: Instance, admin: dict[str, str]) -> dict[str, str]:
    """A pipeline's key that may ingest into collections and do nothing else."""
    data.identity.create_principal("test", "scanner", kind="service", roles=["service"],
                                   clearance="secret")
    key = data.identity.create_api_key("test", "scanner", scope=["collections.ingest"])
    return {"Authorization": f"Bearer {key.token}"}


@pytest.fixture
def analyst(data: Instance, admin: dict[str, str]) -> dict[str, str]:
    """Reads the collection, but only up to internal (the ceiling is confidential)."""
    data.identity.create_principal("test", "bob", roles=["analyst"], clearance="internal")
    return {"Authorization": f"Bearer {data.identity.create_api_key('test', 'bob').token}"}


def _ingest(client: TestClient, headers: dict[str, str], name: str, body: bytes
            ) -> dict[str, object]:
    response = client.post(DOCUMENTS, headers=headers, files={"file": (name, body)})
    assert response.status_code == 201, response.text
    answer: dict[str, object] = response.json()
    return answer


def _visible(answer: dict[str, object]) -> dict[str, object]:
    """What may differ between two answers without saying anything: the new id, the name."""
    return {k: v for k, v in answer.items() if k not in ("document_id", "name")}


@pytest.mark.parametrize("who", ["dropbox", "analyst"])
def test_exact_guess_is_no_content_oracle(request: pytest.FixtureRequest, client: TestClient,
                                          admin: dict[str, str], who: str) -> None:
    hidden = _ingest(client, admin, "salaries.txt", SALARIES)
    assert hidden["classification"] == "confidential"
    guesser = request.getfixturevalue(who)
    guess = _ingest(client, guesser, "salaries.txt", SALARIES)
    assert guess["status"] == "ingested", "an exact guess was confirmed as 'unchanged'"
    assert guess["document_id"] != hidden["document_id"]
    # The same bytes under a name nobody used before: nothing exists to find there.
    control = _ingest(client, guesser, "never-seen.txt", SALARIES)
    assert _visible(guess) == _visible(control)


@pytest.mark.parametrize("who", ["dropbox", "analyst"])
def test_name_guess_is_no_existence_oracle(request: pytest.FixtureRequest, client: TestClient,
                                           admin: dict[str, str], who: str) -> None:
    _ingest(client, admin, "salaries.txt", SALARIES)
    guesser = request.getfixturevalue(who)
    guess = _ingest(client, guesser, "salaries.txt", SALARIES_GUESS_WRONG)
    control = _ingest(client, guesser, "no-such-name.txt", SALARIES_GUESS_WRONG)
    assert guess["version"] is None, "the version number revealed earlier, hidden versions"
    assert _visible(guess) == _visible(control)


def test_a_reader_of_everything_still_sees_versions_and_unchanged(
        client: TestClient, admin: dict[str, str]) -> None:
    first = _ingest(client, admin, "salaries.txt", SALARIES)
    again = _ingest(client, admin, "salaries.txt", SALARIES)
    changed = _ingest(client, admin, "salaries.txt", SALARIES_GUESS_WRONG)
    assert first["version"] == 1
    assert again["status"] == "unchanged" and again["document_id"] == first["document_id"]
    assert changed["status"] == "ingested" and changed["version"] == 2


def test_a_withheld_version_is_still_a_new_version_for_readers(
        client: TestClient, admin: dict[str, str], dropbox: dict[str, str]) -> None:
    """What the blind caller stored is a real version: a full reader sees it as one."""
    _ingest(client, admin, "salaries.txt", SALARIES)
    blind = _ingest(client, dropbox, "salaries.txt", SALARIES)
    listed = client.get("/data/collections/payroll/documents", headers=admin).json()
    assert {(d["id"], d["version"]) for d in listed} >= {(blind["document_id"], 2)}
    # The blind caller cannot read the collection at all: its key is scoped to ingest.
    assert client.get("/data/collections/payroll/documents",
                      headers=dropbox).status_code == 403


def test_public_document_reports_public(client: TestClient, admin: dict[str, str]) -> None:
    """``if r.classification`` took level 0 (public) for no classification at all."""
    answer = _ingest(client, admin, "menu.txt", b"Lunch menu: soup, bread and salad daily.")
    assert answer["status"] == "ingested"
    assert answer["classification"] == "public"
