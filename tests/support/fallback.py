"""A model whose upstream is down, and a policy that names a fallback for it (ADR 0801)."""

from __future__ import annotations

from sovra.instance import Instance
from sovra.keys import start_for_up
from tests.ai.api_support import key_for
from tests.ai.conftest import approved_upstream
from tests.e2e.server import free_port

FALLBACK_RULE = """
@id("test-fallback")
permit (principal, action == Action::"models.fallback", resource == Model::"fake-instant");
"""


def upstream_down(instance: Instance) -> Instance:
    """``down-model`` approved on an upstream where nothing listens."""
    start_for_up(instance.keys)  # development-mode ceremony: unsealed, as `sovra up` does
    approved_upstream(instance, free_port(), model_id="down-model")  # nothing listens
    return instance


def name_fallback(instance: Instance) -> str:
    """An approved policy version naming ``fake-instant`` as the fallback (proposed by
    alice, approved by bob: the requester never approves); alice's admin key."""
    key = key_for(instance, "alice", roles=("admin",), clearance="secret")
    instance.identity.create_principal("system", "bob", roles=["approver"])
    proposal = instance.policy.propose(instance.identity.caller_for("alice"),
                                       instance.policy.show().text + FALLBACK_RULE,
                                       "fallback")
    instance.policy.approve(instance.identity.caller_for("bob"), proposal.version)
    return key
