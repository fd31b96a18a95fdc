"""The auth dependency and the identity/policy routes, over HTTP against the real app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.api.auth import authorized
from sovra.errors import RateLimitedError
from sovra.identity import Caller, FailureLimiter
from sovra.instance import Instance


def _probe_app(instance: Instance, calls: list[str]) -> FastAPI:
    app = create_app(instance)

    @app.get("/probe/{collection_id}")
    def probe(collection_id: str, caller: Annotated[Caller, Depends(authorized(
            "collections.read", "Collection", resource_id_param="collection_id"))]) -> dict[
                str, str]:
        calls.append(caller.principal_id)
        return {"who": caller.principal_id}

    return app


def test_allowed_request_runs_and_its_decision_is_recorded(
        instance: Instance, admin_key: str,
        events: Callable[[], list[dict[str, object]]]) -> None:
    calls: list[str] = []
    client = TestClient(_probe_app(instance, calls))
    response = client.get("/probe/c-7", headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 200 and response.json() == {"who": "admin"}
    last = events()[-1]
    assert (last["action"], last["actor"], last["outcome"], last["resource"]) == (
        "policy.decision", "admin", "allowed", 'Collection::"c-7"')
    details = last["details"]
    assert isinstance(details, dict)
    assert details["policies"] == ["admin-manages"]
    assert details["action"] == "collections.read"


def test_denied_request_does_not_run_and_the_deny_is_recorded(
        instance: Instance, events: Callable[[], list[dict[str, object]]]) -> None:
    instance.identity.create_principal("t", "aud", roles=["auditor"])
    token = instance.identity.create_api_key("t", "aud").token
    calls: list[str] = []
    client = TestClient(_probe_app(instance, calls))
    response = client.get("/probe/c-7", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "PermissionDeniedError"
    assert calls == []
    last = events()[-1]
    assert (last["actor"], last["outcome"]) == ("aud", "denied")


def test_request_is_refused_when_the_ledger_cannot_record(instance: Instance,
                                                          admin_key: str) -> None:
    calls: list[str] = []
    client = TestClient(_probe_app(instance, calls))
    instance.identity.verify_api_key(admin_key)  # authentication itself needs no DB now
    instance.ledger.close()
    response = client.get("/probe/c-7", headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "LedgerUnavailableError"
    assert calls == []


def test_brute_force_on_api_keys_gets_429_and_is_recorded(
        instance: Instance, admin_key: str,
        events: Callable[[], list[dict[str, object]]]) -> None:
    client = TestClient(_probe_app(instance, []))
    guess = admin_key[:-6] + "AAAAAA"
    statuses = [client.get("/probe/c", headers={"Authorization": f"Bearer {guess}"}).status_code
                for _ in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    assert int(client.get("/probe/c", headers={"Authorization": f"Bearer {guess}"}
                          ).headers["Retry-After"]) >= 1
    valid = client.get("/probe/c", headers={"Authorization": f"Bearer {admin_key}"})
    assert valid.status_code == 200  # a valid key is never locked out (issue 15)
    recorded = events()
    failures = [e for e in recorded if e["action"] == "identity.authenticate"]
    assert len(failures) == 10 and all(e["outcome"] == "failure" for e in failures)
    assert [e["outcome"] for e in recorded if e["action"] == "identity.rate_limited"] == [
        "denied"]
    assert all(guess not in str(e) for e in recorded)  # only the key prefix is recorded


def test_failure_limiter_counts_per_address_and_forgets_after_the_window() -> None:
    now = [0.0]
    limiter = FailureLimiter(max_failures=3, window_s=60.0, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("10.0.0.1")
        limiter.record_failure("10.0.0.1")
    with pytest.raises(RateLimitedError, match="too many"):
        limiter.check("10.0.0.1")
    limiter.check("10.0.0.2")  # another address is unaffected
    now[0] = 61.0
    limiter.check("10.0.0.1")


def test_missing_and_malformed_credentials_are_401(instance: Instance) -> None:
    client = TestClient(_probe_app(instance, []))
    for headers in [{}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer nonsense"}]:
        response = client.get("/probe/c", headers=headers)
        assert response.status_code == 401, headers


def test_identity_and_policy_routes_end_to_end(instance: Instance, admin_key: str) -> None:
    admin = TestClient(create_app(instance),
                       headers={"Authorization": f"Bearer {admin_key}"})
    made = admin.post("/identity/principals", json={
        "principal_id": "dana", "roles": ["analyst"], "clearance": "internal"})
    assert made.status_code == 201 and made.json()["roles"] == ["analyst"]
    # An approver and its key come from the machine owner (or a second approver, see
    # test_second_person.py): an admin alone cannot mint them over the API.
    instance.identity.create_principal("system", "carol", roles=["approver"],
                                       clearance="secret")
    key = admin.post("/identity/apikeys", json={"principal_id": "admin", "label": "l"})
    assert key.status_code == 201
    assert key.json()["key"].startswith(key.json()["prefix"] + "_")
    listed = admin.get("/identity/apikeys", params={"principal_id": "admin"}).json()
    assert key.json()["prefix"] in [k["prefix"] for k in listed]
    assert all("key" not in k for k in listed)
    carol_created = instance.identity.create_api_key("system", "carol", label="l")
    carol_key = carol_created.token

    active = admin.get("/policy").json()
    extra = ('\n@id("x")\npermit(principal in Role::"auditor", action == '
             'Action::"models.use", resource);\n')
    bad = admin.post("/policy/proposals", json={"text": "permit(principal,"})
    assert bad.status_code == 422 and "1:18" in bad.json()["error"]["message"]
    proposed = admin.post("/policy/proposals", json={"text": active["text"] + extra})
    assert proposed.status_code == 201
    version = proposed.json()["version"]
    assert admin.post(f"/policy/versions/{version}/approve").status_code == 403
    carol = TestClient(create_app(instance), headers={"Authorization": f"Bearer {carol_key}"})
    approved = carol.post(f"/policy/versions/{version}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "active"
    assert admin.get("/policy").json()["version"] == version

    revoked = admin.delete(f"/identity/apikeys/{carol_created.info.key_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert carol.get("/policy").status_code == 401
