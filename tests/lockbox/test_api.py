"""The lockbox over HTTP against the real app (in process): bad input is a 4xx naming the
rule, never a 500; the routes are in the OpenAPI document."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.instance import Instance


@pytest.fixture
def client(unsealed: Instance) -> TestClient:
    return TestClient(create_app(unsealed))


def key(inst: Instance, principal: str, role: str, jurisdiction: str = "EU") -> dict[str, str]:
    inst.identity.create_principal("test", principal, roles=[role], clearance="secret",
                                   jurisdiction=jurisdiction)
    return {"Authorization": f"Bearer {inst.identity.create_api_key('test', principal).token}"}


ASK = {"scope": "collection:vault", "actions": ["documents.read"], "reason": "INC-1"}


@pytest.mark.parametrize(("change", "status", "rule"), [
    ({"scope": "galaxy:far"}, 400, "lockbox.known-scope"),
    ({"scope": "collection:nowhere"}, 400, "lockbox.known-scope"),
    ({"duration_s": 9 * 3600}, 400, "lockbox.duration-cap"),
    ({"reason": ""}, 400, "lockbox.reason-required"),
    ({"actions": ["models.use"]}, 400, "lockbox.known-action"),
    ({"urgency": "whenever"}, 400, "lockbox.known-urgency"),
])
def test_bad_requests_are_4xx_naming_the_rule(client: TestClient, unsealed: Instance,
                                              change: dict[str, object], status: int,
                                              rule: str) -> None:
    operator = key(unsealed, "otto", "operator")
    answer = client.post("/lockbox/requests", headers=operator, json={**ASK, **change})
    assert answer.status_code == status and rule in answer.text


def test_votes_over_http_name_their_rule(client: TestClient, unsealed: Instance) -> None:
    operator = key(unsealed, "otto", "operator")
    ann = key(unsealed, "ann", "approver")
    sam = key(unsealed, "sam", "approver", jurisdiction="US")
    asked = client.post("/lockbox/requests", headers=operator, json=ASK)
    assert asked.status_code == 201
    request_id = asked.json()["id"]
    approve = f"/lockbox/requests/{request_id}/approve"
    from_us = client.post(approve, headers=sam, json={})
    assert from_us.status_code == 403 and "lockbox-approver-jurisdiction" in from_us.text
    assert client.post(approve, headers=ann, json={}).status_code == 200
    twice = client.post(approve, headers=ann, json={})
    assert twice.status_code == 403 and "lockbox.one-vote-per-approver" in twice.text
    assert client.post("/lockbox/requests/ar-000000000000/approve", headers=ann,
                       json={}).status_code == 404
    revoked = client.post(f"/lockbox/requests/{request_id}/revoke", headers=ann, json={})
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    late = client.post(approve, headers=key(unsealed, "abe", "approver"), json={})
    assert late.status_code == 409 and "lockbox.pending-only" in late.text


def test_the_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/lockbox/requests", "/lockbox/requests/{request_id}",
            "/lockbox/requests/{request_id}/approve", "/lockbox/requests/{request_id}/deny",
            "/lockbox/requests/{request_id}/revoke", "/lockbox/requests/{request_id}/review",
            "/lockbox/breakglass", "/lockbox/status", "/lockbox/report",
            "/lockbox/grants/{grant_id}/events"} <= set(paths)
