"""Issue 13: the edge check runs on every route, before authorization records anything.

Statically, every APIRoute's dependency tree starts with ``RefuseHostileInput`` (so a
route added later cannot miss it, and the ``authorized`` dependency, which appends the
decision to the ledger, comes after it); the one route served before FastAPI's router
(the chat hot path) is covered by tests/e2e/test_hostile_input.py through the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from tests.api.test_route_protection import _flatten

from sovra.api import create_app
from sovra.api.auth import Authorized
from sovra.api.deps import RefuseHostileInput
from sovra.config import Settings
from sovra.identity import ensure_first_admin
from sovra.instance import Instance, open_instance
from sovra.ledger import entry as entries


@pytest.fixture
def app(sqlite_settings: Settings) -> Iterator[FastAPI]:
    opened: Instance = open_instance(sqlite_settings)
    try:
        yield create_app(opened)
    finally:
        opened.close()


def _order(dependant: Dependant) -> Iterator[object]:
    """Dependency callables in the order FastAPI solves them (depth first)."""
    for sub in dependant.dependencies:
        yield from _order(sub)
        yield sub.call


def test_every_route_checks_input_before_anything_else(app: FastAPI) -> None:
    checked = 0
    wrong = []
    for endpoint in _flatten(app.routes):
        if endpoint.dependant is None:
            continue
        calls = list(_order(endpoint.dependant))
        guard = [i for i, call in enumerate(calls) if isinstance(call, RefuseHostileInput)]
        auth = [i for i, call in enumerate(calls) if isinstance(call, Authorized)]
        if guard != [0] or (auth and auth[0] < guard[0]):
            wrong.append(f"{sorted(endpoint.methods)} {endpoint.path}")
        checked += 1
    assert wrong == []
    assert checked >= 40  # the check is not vacuous


@pytest.fixture
def admin_client(sqlite_settings: Settings) -> Iterator[tuple[TestClient, Instance]]:
    opened: Instance = open_instance(sqlite_settings)
    key = ensure_first_admin(opened)
    try:
        yield TestClient(create_app(opened), headers={"Authorization": f"Bearer {key}"}), opened
    finally:
        opened.close()


def test_hostile_path_is_refused_before_any_decision(
        admin_client: tuple[TestClient, Instance]) -> None:
    client, instance = admin_client
    before = instance.ledger.size
    response = client.get("/data/documents/%00")
    assert response.status_code == 422
    assert "path.document_id" in response.json()["error"]["message"]
    assert instance.ledger.size == before  # nothing decided, nothing recorded


def test_hostile_body_is_refused_after_the_decision_is_recorded(
        admin_client: tuple[TestClient, Instance]) -> None:
    """As FastAPI answers any invalid body: after the dependencies, so the allow is on
    the record like for every other request the policy allowed."""
    client, instance = admin_client
    before = instance.ledger.size
    response = client.post("/data/collections/c1/holds", content=b'{"reason": "\\u0000"}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "body.reason" in response.json()["error"]["message"]
    recorded = [entries.decode(row.body) for row in instance.ledger.tail(
        instance.ledger.size - before)]
    assert [(e.action, e.outcome) for e in recorded] == [("policy.decision", "allowed")]
