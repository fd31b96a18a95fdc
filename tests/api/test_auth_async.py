"""The auth dependency's fast path: it records the same decision entry as
``PolicyService.require``, memoised decisions follow a policy change at once, and a
credential verified on the event loop is still checked on every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from tests.support.ledger import ledger_events

from sovra.api import create_app
from sovra.api.auth import authorized
from sovra.api.client_context import CLIENT_KEYS
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Resource

_FORBID_READS = ('\n@id("no-reads")\n'
                 'forbid(principal, action == Action::"collections.read", resource);\n')


def _app(instance: Instance) -> FastAPI:
    app = create_app(instance)

    @app.get("/probe/{collection_id}")
    def probe(collection_id: str, caller: Annotated[Caller, Depends(authorized(
            "collections.read", "Collection", resource_id_param="collection_id"))]) -> dict[
                str, str]:
        return {"who": caller.principal_id, "collection": collection_id}

    return app


def _last_decision(instance: Instance) -> dict[str, object]:
    return next(e for e in reversed(ledger_events(instance))
                if e["action"] == "policy.decision")


def test_dependency_records_what_policy_require_records(instance: Instance,
                                                        admin_key: str) -> None:
    client = TestClient(_app(instance))
    response = client.get("/probe/c-1", headers={"Authorization": f"Bearer {admin_key}",
                                                 "Origin": "https://App.Example:8443"})
    assert response.status_code == 200
    via_route = _last_decision(instance)
    caller = instance.identity.authenticate(f"Bearer {admin_key}", "testclient")
    instance.policy.require(caller, "collections.read", Resource("Collection", "c-1"),
                            {"client_ip": "testclient"})
    via_service = _last_decision(instance)
    for field in ("actor", "outcome", "resource"):
        assert via_route[field] == via_service[field], field
    # The route also records the client's own description (issue 18); a service call
    # has no request to take it from. Everything else is the same decision record.
    route_details = dict(via_route["details"])  # type: ignore[call-overload]
    assert {k: route_details.pop(k) for k in CLIENT_KEYS} == {
        "user_agent": "testclient", "domain": "app.example"}
    assert route_details == via_service["details"]


def test_memoised_allow_ends_when_a_new_policy_version_is_active(instance: Instance,
                                                                 admin_key: str) -> None:
    client = TestClient(_app(instance))
    headers = {"Authorization": f"Bearer {admin_key}"}
    for _ in range(3):  # the second and third answers come from the memo
        assert client.get("/probe/c-1", headers=headers).status_code == 200
    instance.identity.create_principal("admin", "appr", roles=["approver"])
    admin = instance.identity.caller_for("admin")
    proposal = instance.policy.propose(admin, instance.policy.show().text + _FORBID_READS)
    instance.policy.approve(instance.identity.caller_for("appr"), proposal.version)
    response = client.get("/probe/c-1", headers=headers)
    assert response.status_code == 403
    decision = _last_decision(instance)
    assert decision["outcome"] == "denied"
    details = decision["details"]
    assert isinstance(details, dict) and details["policy_version"] == proposal.version


def test_revoked_key_is_refused_on_the_fast_path(instance: Instance) -> None:
    instance.identity.create_principal("t", "svc", kind="service", roles=["admin"])
    created = instance.identity.create_api_key("t", "svc")
    client = TestClient(_app(instance))
    headers = {"Authorization": f"Bearer {created.token}"}
    for _ in range(2):  # the second request verifies on the event loop
        assert client.get("/probe/c-1", headers=headers).status_code == 200
    instance.identity.revoke_api_key("t", created.info.key_id)
    assert client.get("/probe/c-1", headers=headers).status_code == 401
    assert client.get("/probe/c-1", headers=headers).status_code == 401
    # Each refusal went the slow way (a thread), where its failure is recorded durably.
    failures = [e for e in ledger_events(instance) if e["action"] == "identity.authenticate"]
    assert [e["details"]["reason"] for e in failures[-2:]] == [  # type: ignore[index]
        "API key was revoked"] * 2


def test_only_a_cached_valid_key_is_answered_without_blocking_work(
        instance: Instance) -> None:
    """``authenticate_cached`` answers from memory or says "do it in a thread": it never
    reads the database and never records (both block the event loop)."""
    identity = instance.identity
    identity.create_principal("t", "svc", kind="service", roles=["admin"])
    created = identity.create_api_key("t", "svc")
    header = f"Bearer {created.token}"
    assert identity.authenticate_cached(header, "10.0.0.1") is None  # not verified yet
    assert identity.authenticate(header, "10.0.0.1").principal_id == "svc"
    cached = identity.authenticate_cached(header, "10.0.0.1")
    assert cached is not None and cached.principal_id == "svc"
    size = instance.ledger.size
    wrong = created.token[:-4] + ("AAAA" if not created.token.endswith("AAAA") else "BBBB")
    for refused in (f"Bearer {wrong}", None, "Bearer not-a-key", "Basic abc"):
        assert identity.authenticate_cached(refused, "10.0.0.1") is None
    identity.revoke_api_key("t", created.info.key_id)
    assert identity.authenticate_cached(header, "10.0.0.1") is None
    assert instance.ledger.size == size + 1  # only the revocation itself was recorded
