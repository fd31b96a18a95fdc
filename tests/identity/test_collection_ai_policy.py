"""Issue 13: only a collection's owner may change whether AI requests keep its text."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.data.values import CollectionSpec
from sovra.instance import Instance
from sovra.keys import start_for_up
from sovra.policy import Classification


def _key(instance: Instance, principal_id: str, *roles: str) -> dict[str, str]:
    instance.identity.create_principal("system", principal_id, roles=list(roles),
                                       clearance="secret")
    token = instance.identity.create_api_key("system", principal_id).token
    return {"Authorization": f"Bearer {token}"}


def test_only_the_owner_sets_keep_text_on_a_secret_collection(instance: Instance) -> None:
    start_for_up(instance.keys)  # unsealed, as `sovra up` does
    alice = _key(instance, "alice", "analyst")
    bob = _key(instance, "bob", "analyst")
    root = _key(instance, "root", "admin")
    instance.data.create_collection(instance.identity.caller_for("alice"), CollectionSpec(
        id="hr-secret", owner="HR", purpose="investigations", subject_categories=("staff",),
        data_categories=("notes",), retention_days=365, jurisdiction="EU-DE",
        ceiling=Classification.SECRET))
    client = TestClient(create_app(instance))
    url = "/v1/sovra/collections/hr-secret/ai-policy"
    for stranger in (bob, root):
        refused = client.put(url, json={"keep_text": True}, headers=stranger)
        assert refused.status_code == 403, refused.text
    assert not instance.ai.text_policies.keeps_text("hr-secret")
    done = client.put(url, json={"keep_text": True}, headers=alice)
    assert done.status_code == 200, done.text
    assert instance.ai.text_policies.keeps_text("hr-secret")
    missing = client.put("/v1/sovra/collections/nope/ai-policy", json={"keep_text": True},
                         headers=alice)
    assert missing.status_code == 404
