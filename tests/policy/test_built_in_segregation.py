"""Issue 13: "the requester never approves" holds in code, whatever the policy pack says.

A pack without the ``segregation-of-duties`` rule, approved by two people, used to let a
principal holding both roles approve its own model. These tests activate exactly such a
pack and replay self-approval for every approval kind.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.errors import PermissionDeniedError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Resource
from sovra.policy.segregation import BUILT_IN, is_approval, requesters

_RULE = re.compile(r'@id\("segregation-of-duties"\).*?\n\};\n', re.DOTALL)


def _without_segregation(instance: Instance) -> None:
    """Activate the default pack minus its segregation rule, approved by a second person."""
    text = instance.policy.show().text
    stripped, found = _RULE.subn("", text)
    assert found == 1 and "segregation-of-duties" not in stripped.replace(
        "segregation-of-duties (", "")
    proposer = instance.identity.caller_for(
        instance.identity.create_principal("system", "pat", roles=["admin"]).principal_id)
    instance.identity.create_principal("system", "quinn", roles=["approver"])
    proposal = instance.policy.propose(proposer, stripped, "drop segregation of duties")
    instance.policy.approve(instance.identity.caller_for("quinn"), proposal.version)
    assert "segregation-of-duties" not in instance.policy.show().text


@pytest.fixture
def both(instance: Instance) -> TestClient:
    """A principal holding admin and approver, over HTTP, under the stripped pack."""
    _without_segregation(instance)
    instance.identity.create_principal("system", "both", roles=["admin", "approver"],
                                       clearance="secret")
    token = instance.identity.create_api_key("system", "both").token
    return TestClient(create_app(instance), headers={"Authorization": f"Bearer {token}"})


def test_a_model_registrant_cannot_approve_it_even_without_the_policy_rule(
        instance: Instance, both: TestClient) -> None:
    registered = both.post("/v1/sovra/models", json={
        "id": "self-made", "locality": "on_premises", "sha256": "cd" * 32,
        "source": "FakeUpstream on loopback", "licence": "test-only", "ceiling": "internal",
        "upstream_url": "http://127.0.0.1:9/v1"})
    assert registered.status_code == 201, registered.text
    approved = both.post("/v1/sovra/models/self-made/approve", json={})
    assert approved.status_code == 403, approved.text
    assert not instance.ai.registry.get("self-made").approved


def test_a_proposer_cannot_approve_its_policy_even_without_the_policy_rule(
        instance: Instance, both: TestClient) -> None:
    text = both.get("/policy").json()["text"]
    proposed = both.post("/policy/proposals", json={"text": text + "\n// more\n"})
    assert proposed.status_code == 201
    version = proposed.json()["version"]
    assert both.post(f"/policy/versions/{version}/approve").status_code == 403


def test_an_identity_change_requester_cannot_approve_it_even_without_the_policy_rule(
        instance: Instance, both: TestClient) -> None:
    asked = both.post("/identity/principals", json={"principal_id": "mallory",
                                                    "roles": ["approver"]})
    assert asked.status_code == 202
    assert both.post(f"/identity/changes/{asked.json()['change_id']}/approve"
                     ).status_code == 403
    assert "mallory" not in [p.principal_id for p in instance.identity.list_principals()]


@pytest.mark.parametrize(("action", "resource_type"), [
    ("policy.approve", "Policy"), ("models.approve", "Model"),
    ("bundles.approve", "Bundle"), ("principals.approve", "Principal")])
def test_every_approval_action_is_refused_to_its_requester(
        instance: Instance, action: str, resource_type: str) -> None:
    _without_segregation(instance)
    caller = Caller("both", "user", frozenset({"admin", "approver"}), "secret")
    resource = Resource(resource_type, "r-1")
    decision = instance.policy.decide(caller, action, resource, {"requester": "both"})
    assert not decision.allowed and decision.policy_ids == (BUILT_IN,)
    other = instance.policy.decide(caller, action, resource, {"requester": "someone-else"})
    assert other.allowed, other.reasons
    with pytest.raises(PermissionDeniedError) as raised:
        instance.policy.require(caller, action, resource, {"requester": "both"})
    assert BUILT_IN in raised.value.reasons


def test_requesters_are_read_from_the_context_and_the_resource() -> None:
    resource = Resource("Model", "m", {"requester": "ann"})
    assert requesters(resource, {"requester": {"__entity": {"type": "Principal",
                                                            "id": "ben"}}}) == {"ann", "ben"}
    assert requesters(Resource("Policy", "1", {"proposer": "cy"}), None) == {"cy"}
    assert is_approval("lockbox.approve") and is_approval("bundles.approve")
    assert not is_approval("models.use")
