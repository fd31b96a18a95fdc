"""The default policy pack, decided by the real Cedar engine."""

from __future__ import annotations

import pytest

from sovra.identity import Caller
from sovra.policy import CompiledPolicies, Resource, default_policy_text


@pytest.fixture(scope="module")
def pack() -> CompiledPolicies:
    return CompiledPolicies(default_policy_text(), version=1)


def who(*roles: str, clearance: str = "secret", pid: str = "p1") -> Caller:
    return Caller(pid, "user", frozenset(roles), clearance, "ou", "DE")


def test_deny_by_default_for_a_principal_without_roles(pack: CompiledPolicies) -> None:
    decision = pack.decide(who(), "collections.read", Resource("Collection", "c1"))
    assert not decision.allowed
    assert decision.policy_ids == ()
    assert "deny by default" in decision.reasons[0]


def test_clearance_below_classification_is_denied_with_the_forbid_named(
        pack: CompiledPolicies) -> None:
    analyst = who("analyst", clearance="internal")
    doc = Resource("Document", "d1", {"classification": "confidential"})
    denied = pack.decide(analyst, "documents.read", doc)
    assert not denied.allowed
    assert denied.policy_ids == ("clearance-at-least-classification",)
    allowed = pack.decide(analyst, "documents.read",
                          Resource("Document", "d2", {"classification": "internal"}))
    assert allowed.allowed
    assert allowed.policy_ids == ("analyst-works-with-data",)


def test_admins_cannot_read_above_their_clearance_either(pack: CompiledPolicies) -> None:
    admin = who("admin", clearance="confidential")
    doc = Resource("Document", "d1", {"classification": "secret"})
    assert not pack.decide(admin, "documents.read", doc).allowed


@pytest.mark.parametrize("roles", [("auditor",), ("admin",)])
def test_auditors_and_admins_read_the_ledger(pack: CompiledPolicies,
                                             roles: tuple[str, ...]) -> None:
    assert pack.decide(who(*roles), "ledger.read", Resource("Ledger")).allowed


@pytest.mark.parametrize("roles", [("analyst",), ("approver",), ("service",),
                                   ("operator",)])
def test_nobody_else_reads_the_ledger(pack: CompiledPolicies, roles: tuple[str, ...]) -> None:
    decision = pack.decide(who(*roles), "ledger.read", Resource("Ledger"),
                           {"access_grant_approved": True})
    assert not decision.allowed


def test_ledger_rule_overrides_a_customer_permit() -> None:
    text = default_policy_text() + (
        '\n@id("too-generous")\npermit(principal, action, resource);\n')
    generous = CompiledPolicies(text)
    decision = generous.decide(who("analyst"), "ledger.read", Resource("Ledger"))
    assert not decision.allowed
    assert "ledger-only-auditors-and-admins" in decision.policy_ids


def test_policy_approval_needs_the_approver_role(pack: CompiledPolicies) -> None:
    policy = Resource("Policy", "2", {"proposer": "someone-else"})
    assert not pack.decide(who("admin"), "policy.approve", policy).allowed
    assert pack.decide(who("approver"), "policy.approve", policy).allowed


def test_segregation_of_duties_requester_cannot_approve(pack: CompiledPolicies) -> None:
    approver = who("approver", pid="carol")
    own = pack.decide(approver, "policy.approve", Resource("Policy", "2"),
                      {"requester": "carol"})
    assert not own.allowed
    assert own.policy_ids == ("segregation-of-duties",)
    for action, kind in [("models.approve", "Model"), ("bundles.approve", "Bundle")]:
        mine = pack.decide(approver, action, Resource(kind, "x", {"requester": "carol"}))
        assert not mine.allowed
        theirs = pack.decide(approver, action, Resource(kind, "x", {"requester": "dave"}))
        assert theirs.allowed


def test_operators_get_nothing_without_an_approved_access_grant(
        pack: CompiledPolicies) -> None:
    operator = who("operator")
    boxed = pack.decide(operator, "keys.status", Resource("Keys"))
    assert not boxed.allowed
    assert boxed.policy_ids == ("operator-needs-access-grant",)
    granted = pack.decide(operator, "keys.status", Resource("Keys"),
                          {"access_grant_approved": True})
    assert granted.allowed
    # Even an operator who is also an admin is boxed without a grant.
    assert not pack.decide(who("operator", "admin"), "principals.manage",
                           Resource("Principal")).allowed


def test_unknown_action_and_wrong_resource_type_are_denied(pack: CompiledPolicies) -> None:
    admin = who("admin")
    unknown = pack.decide(admin, "ledger.delete", Resource("Ledger"))
    assert not unknown.allowed
    assert "unknown action" in unknown.errors[0]
    wrong = pack.decide(admin, "ledger.read", Resource("Document", "d"))
    assert not wrong.allowed
    assert "does not apply" in wrong.errors[0]


def test_an_evaluation_error_denies_even_when_a_permit_matched() -> None:
    # Cedar skips an erroring policy; Sovra turns any error into a deny (fail closed).
    text = ('@id("p")\npermit(principal, action, resource);\n'
            '@id("f")\nforbid(principal, action, resource) when '
            '{ principal.clearance + 9223372036854775807 > 0 };\n')  # overflows at run time
    compiled = CompiledPolicies(text)
    decision = compiled.decide(who("admin"), "collections.read", Resource("Collection", "c"))
    assert decision.errors
    assert not decision.allowed


def test_a_document_inherits_from_its_collection() -> None:
    text = ('@id("c1-readers")\npermit(principal, action == Action::"documents.read", '
            'resource in Collection::"c1");\n')
    compiled = CompiledPolicies(text)
    caller = who()
    inside = Resource("Document", "d", {"collection": "c1"})
    outside = Resource("Document", "d", {"collection": "c2"})
    assert compiled.decide(caller, "documents.read", inside).allowed
    assert not compiled.decide(caller, "documents.read", outside).allowed


def test_decisions_name_the_determining_policies_for_the_ledger(
        pack: CompiledPolicies) -> None:
    decision = pack.decide(who("auditor", pid="aud"), "ledger.read", Resource("Ledger", "main"))
    assert decision.ledger_details() == {"action": "ledger.read", "decision": "allow",
                                         "policies": ["auditor-reads"], "errors": []}
    assert decision.resource == 'Ledger::"main"'
    assert decision.outcome == "allowed"


def test_malformed_input_is_denied_not_raised(pack: CompiledPolicies) -> None:
    odd_clearance = Caller("p1", "user", frozenset({"admin"}), "top-secret")
    decision = pack.decide(odd_clearance, "collections.read", Resource("Collection", "c"))
    assert not decision.allowed and "rejected" in decision.errors[0]
    odd_level = Resource("Document", "d", {"classification": "ultra"})
    assert not pack.decide(who("admin"), "documents.read", odd_level).allowed
