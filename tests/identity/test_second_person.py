"""Issue 13 over HTTP: an administrator alone cannot become (or act as) an approver.

Each test replays a reported way around the second-person rule against the real app and
the real ledger: minting a key for an existing approver, creating an approver and
minting its key, joining a group that holds the approver role, and locking everyone out
by disabling the last administrator.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.errors import ConflictError
from sovra.identity import ensure_first_admin
from sovra.instance import Instance

EXTRA = ('\n@id("x")\npermit(principal in Role::"auditor", action == '
         'Action::"models.use", resource);\n')


def _client(instance: Instance, key: str) -> TestClient:
    return TestClient(create_app(instance), headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def admin(instance: Instance) -> TestClient:
    token = ensure_first_admin(instance)
    assert token is not None
    return _client(instance, token)


def _approver(instance: Instance, principal_id: str) -> TestClient:
    """An approver made by the machine owner (the in-process ``system`` path)."""
    instance.identity.create_principal("system", principal_id, roles=["approver"],
                                       clearance="secret")
    return _client(instance, instance.identity.create_api_key("system", principal_id).token)


def _propose(admin: TestClient) -> int:
    text = admin.get("/policy").json()["text"]
    proposed = admin.post("/policy/proposals", json={"text": text + EXTRA})
    assert proposed.status_code == 201
    return int(proposed.json()["version"])


def test_admin_cannot_mint_a_key_for_an_existing_approver(
        instance: Instance, admin: TestClient,
        events: Callable[[], list[dict[str, object]]]) -> None:
    _approver(instance, "carol")
    version = _propose(admin)
    asked = admin.post("/identity/apikeys", json={"principal_id": "carol", "label": "x"})
    assert asked.status_code == 202, asked.text
    change = asked.json()
    assert "key" not in change and change["status"] == "pending"
    assert change["kind"] == "apikey" and change["requested_by"] == "admin"
    assert instance.identity.list_api_keys("carol") != []  # only the owner-made key
    assert len(instance.identity.list_api_keys("carol")) == 1
    # The requester cannot approve its own hand-over, nor can anyone without the role.
    assert admin.post(f"/identity/changes/{change['change_id']}/approve").status_code == 403
    assert len(instance.identity.list_api_keys("carol")) == 1
    assert admin.post(f"/policy/versions/{version}/approve").status_code == 403
    assert instance.policy.active.version == 1
    recorded = [(e["action"], e["actor"]) for e in events()]
    assert ("identity.change.request", "admin") in recorded


def test_a_hand_over_takes_effect_when_a_second_approver_approves(
        instance: Instance, admin: TestClient,
        events: Callable[[], list[dict[str, object]]]) -> None:
    instance.identity.create_principal("system", "dana", roles=["analyst"])
    dave = _approver(instance, "dave")
    asked = admin.post("/identity/apikeys", json={"principal_id": "dana", "label": "nb"})
    assert asked.status_code == 202
    change_id = asked.json()["change_id"]
    pending = dave.get("/identity/changes", params={"status": "pending"}).json()
    assert [c["change_id"] for c in pending] == [change_id]
    done = dave.post(f"/identity/changes/{change_id}/approve")
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["change"]["status"] == "approved" and body["change"]["decided_by"] == "dave"
    key = body["key"]
    assert key["principal_id"] == "dana" and key["label"] == "nb"
    assert instance.identity.verify_api_key(key["key"]).principal_id == "dana"
    again = dave.post(f"/identity/changes/{change_id}/approve")
    assert again.status_code == 409  # a change is applied once
    approvals = [e for e in events() if e["action"] == "identity.change.approve"]
    assert [(e["actor"], e["outcome"]) for e in approvals] == [("dave", "success")]
    details = approvals[0]["details"]
    assert isinstance(details, dict) and details["requested_by"] == "admin"


def test_admin_cannot_create_an_approver_and_approve_with_it(
        instance: Instance, admin: TestClient) -> None:
    version = _propose(admin)
    made = admin.post("/identity/principals", json={
        "principal_id": "mallory", "roles": ["approver"], "clearance": "secret"})
    assert made.status_code == 202, made.text
    assert made.json()["kind"] == "principal" and made.json()["target"] == "mallory"
    assert [p.principal_id for p in instance.identity.list_principals()] == ["admin"]
    assert admin.post("/identity/apikeys", json={"principal_id": "mallory"}).status_code == 404
    assert admin.post(f"/identity/changes/{made.json()['change_id']}/approve"
                      ).status_code == 403
    assert admin.post(f"/policy/versions/{version}/approve").status_code == 403
    # An admin role is a grant too; an analyst is not.
    assert admin.post("/identity/principals", json={
        "principal_id": "root2", "roles": ["admin"]}).status_code == 202
    plain = admin.post("/identity/principals", json={
        "principal_id": "erin", "roles": ["analyst"]})
    assert plain.status_code == 201 and plain.json()["roles"] == ["analyst"]


def test_a_role_grant_takes_effect_when_a_second_approver_approves(
        instance: Instance, admin: TestClient) -> None:
    dave = _approver(instance, "dave")
    made = admin.post("/identity/principals", json={
        "principal_id": "frank", "roles": ["approver"], "clearance": "secret"})
    change_id = made.json()["change_id"]
    done = dave.post(f"/identity/changes/{change_id}/approve")
    assert done.status_code == 200, done.text
    assert done.json()["principal"]["roles"] == ["approver"]
    assert instance.identity.get_principal("frank").roles == {"approver"}


def test_joining_a_group_with_the_approver_role_needs_a_second_approver(
        instance: Instance, admin: TestClient) -> None:
    instance.identity.create_principal("system", "approvers", kind="group",
                                       roles=["approver"])
    asked = admin.post("/identity/groups/approvers/members", json={"member_id": "admin"})
    assert asked.status_code == 202, asked.text
    assert instance.identity.members("approvers") == []
    assert admin.post(f"/identity/changes/{asked.json()['change_id']}/approve"
                      ).status_code == 403
    instance.identity.create_principal("system", "readers", kind="group", roles=["auditor"])
    instance.identity.create_principal("system", "gina", roles=["analyst"])
    joined = admin.post("/identity/groups/readers/members", json={"member_id": "gina"})
    assert joined.status_code == 204
    assert instance.identity.members("readers") == ["gina"]


def test_an_approver_may_reject_and_nothing_happens(
        instance: Instance, admin: TestClient) -> None:
    dave = _approver(instance, "dave")
    made = admin.post("/identity/principals", json={"principal_id": "hank",
                                                    "roles": ["admin"]})
    change_id = made.json()["change_id"]
    rejected = dave.post(f"/identity/changes/{change_id}/reject", json={"reason": "who?"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert dave.post(f"/identity/changes/{change_id}/approve").status_code == 409
    assert "hank" not in [p.principal_id for p in instance.identity.list_principals()]


def test_an_admin_mints_its_own_key_at_once_within_its_scope(
        instance: Instance, admin: TestClient) -> None:
    own = admin.post("/identity/apikeys", json={"principal_id": "admin", "label": "laptop"})
    assert own.status_code == 201 and own.json()["key"].startswith("sk-sovra-")
    scoped_token = instance.identity.create_api_key(
        "system", "admin", scope=["principals.manage"]).token
    scoped = _client(instance, scoped_token)
    wider = scoped.post("/identity/apikeys", json={"principal_id": "admin"})
    assert wider.status_code == 201 and wider.json()["scope"] == ["principals.manage"]
    escalate = scoped.post("/identity/apikeys",
                           json={"principal_id": "admin", "scope": ["ledger.read"]})
    assert escalate.status_code == 403


def test_the_last_enabled_administrator_cannot_disable_itself(
        instance: Instance, admin: TestClient) -> None:
    refused = admin.post("/identity/principals/admin/disable")
    assert refused.status_code == 409, refused.text
    message = refused.json()["error"]["message"]
    assert "no enabled administrator" in message and "another administrator" in message
    assert not instance.identity.get_principal("admin").disabled
    assert admin.get("/identity/principals").status_code == 200
    with pytest.raises(ConflictError, match="lock everyone out"):
        instance.identity.set_disabled("system", "admin")
    instance.identity.create_principal("system", "admin2", roles=["admin"])
    assert admin.post("/identity/principals/admin/disable").status_code == 200
    assert instance.identity.get_principal("admin").disabled


def test_leaving_the_only_admin_group_cannot_lock_everyone_out(
        instance: Instance) -> None:
    identity = instance.identity
    identity.create_principal("system", "admins", kind="group", roles=["admin"])
    identity.create_principal("system", "ivy", roles=["analyst"])
    identity.add_member("system", "admins", "ivy")
    with pytest.raises(ConflictError, match="no enabled administrator"):
        identity.remove_member("system", "admins", "ivy")
    with pytest.raises(ConflictError, match="no enabled administrator"):
        identity.set_disabled("system", "admins")
    assert identity.members("admins") == ["ivy"]


def test_enabling_a_disabled_approver_needs_a_second_approver(
        instance: Instance, admin: TestClient) -> None:
    dave = _approver(instance, "dave")
    _approver(instance, "carol")
    instance.identity.set_disabled("system", "carol")
    asked = admin.post("/identity/principals/carol/enable")
    assert asked.status_code == 202, asked.text
    assert instance.identity.get_principal("carol").disabled
    done = dave.post(f"/identity/changes/{asked.json()['change_id']}/approve")
    assert done.status_code == 200 and done.json()["principal"]["disabled"] is False
    instance.identity.create_principal("system", "kim", roles=["analyst"])
    instance.identity.set_disabled("system", "kim")
    plain = admin.post("/identity/principals/kim/enable")
    assert plain.status_code == 200 and plain.json()["disabled"] is False


def test_the_holder_may_approve_the_hand_over_of_its_own_key(
        instance: Instance, admin: TestClient) -> None:
    carol = _approver(instance, "carol")
    asked = admin.post("/identity/apikeys", json={"principal_id": "carol", "label": "new"})
    done = carol.post(f"/identity/changes/{asked.json()['change_id']}/approve")
    assert done.status_code == 200, done.text
    assert instance.identity.verify_api_key(done.json()["key"]["key"]).principal_id == "carol"
