"""Versioned policy: validation before activation, approval, segregation of duties, ledger."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from sovra.errors import ConflictError, PermissionDeniedError, PolicyValidationError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Resource

EXTRA = ('\n@id("auditors-use-models")\npermit(principal in Role::"auditor", '
         'action == Action::"models.use", resource);\n')


def caller(instance: Instance, pid: str, *roles: str) -> Caller:
    instance.identity.create_principal("test", pid, roles=roles, clearance="secret")
    return instance.identity.caller_for(pid)


def test_first_start_activates_the_default_pack_as_version_1(
        instance: Instance, events: Callable[[], list[dict[str, object]]]) -> None:
    active = instance.policy.show()
    assert (active.version, active.status, active.proposed_by) == (1, "active", "system")
    assert any(e["action"] == "policy.activate" and e["resource"] == "policy:1"
               for e in events())


def test_invalid_proposal_reports_position_and_previous_version_stays_active(
        instance: Instance) -> None:
    admin = caller(instance, "ann", "admin")
    bad = instance.policy.show().text + "\npermit(principal, action,\n resource) when { 1 + };\n"
    with pytest.raises(PolicyValidationError) as raised:
        instance.policy.propose(admin, bad, source="mine.cedar")
    line = bad.count("\n", 0, bad.index("when { 1 +")) + 1
    assert f"mine.cedar:{line}:23: unexpected token `}}`" in str(raised.value)
    typo = ('permit(principal, action == Action::"ledger.read", resource)\n'
            "  when { principal.clearanc > 1 };\n")
    with pytest.raises(PolicyValidationError) as raised:
        instance.policy.propose(admin, typo, source="typo.cedar")
    assert "typo.cedar:2:20:" in str(raised.value) and "clearanc" in str(raised.value)
    assert [v.version for v in instance.policy.versions()] == [1]
    assert instance.policy.active.version == 1


def test_approval_activates_records_the_diff_hash_and_changes_decisions(
        instance: Instance, events: Callable[[], list[dict[str, object]]]) -> None:
    admin = caller(instance, "ann", "admin")
    approver = caller(instance, "carl", "approver")
    auditor = caller(instance, "aud", "auditor")
    model = Resource("Model", "m1")
    assert not instance.policy.decide(auditor, "models.use", model).allowed
    proposal = instance.policy.propose(admin, instance.policy.show().text + EXTRA, "models")
    assert proposal.status == "proposed"
    assert proposal.diff_sha256 == hashlib.sha256(proposal.diff.encode()).hexdigest()
    assert "+permit(principal in Role::\"auditor\"" in proposal.diff
    assert not instance.policy.decide(auditor, "models.use", model).allowed  # not yet
    done = instance.policy.approve(approver, proposal.version)
    assert (done.status, done.approved_by) == ("active", "carl")
    assert instance.policy.get(1).status == "superseded"
    assert instance.policy.decide(auditor, "models.use", model).allowed
    recorded = {(e["action"], e["resource"]): e for e in events()}
    for action in ("policy.propose", "policy.activate"):
        details = recorded[(action, f"policy:{proposal.version}")]["details"]
        assert isinstance(details, dict)
        assert details["diff_sha256"] == proposal.diff_sha256


def test_the_proposer_cannot_approve_their_own_change(instance: Instance) -> None:
    both = caller(instance, "pat", "admin", "approver")
    proposal = instance.policy.propose(both, instance.policy.show().text + EXTRA)
    with pytest.raises(PermissionDeniedError) as raised:
        instance.policy.approve(both, proposal.version)
    assert "segregation-of-duties (built in)" in raised.value.reasons
    assert instance.policy.active.version == 1


def test_admins_without_the_approver_role_cannot_approve(instance: Instance) -> None:
    admin = caller(instance, "ann", "admin")
    other_admin = caller(instance, "bob", "admin")
    proposal = instance.policy.propose(admin, instance.policy.show().text + EXTRA)
    with pytest.raises(PermissionDeniedError):
        instance.policy.approve(other_admin, proposal.version)
    assert instance.policy.get(proposal.version).status == "proposed"


def test_a_stale_proposal_cannot_overwrite_a_newer_version(instance: Instance) -> None:
    admin = caller(instance, "ann", "admin")
    approver = caller(instance, "carl", "approver")
    base = instance.policy.show().text
    first = instance.policy.propose(admin, base + EXTRA)
    second = instance.policy.propose(admin, base + EXTRA.replace("auditors-use", "x"))
    instance.policy.approve(approver, first.version)
    with pytest.raises(ConflictError):
        instance.policy.approve(approver, second.version)
    assert instance.policy.show().version == first.version


def test_decisions_are_recorded_allow_and_deny(
        instance: Instance, events: Callable[[], list[dict[str, object]]]) -> None:
    auditor = caller(instance, "aud", "auditor")
    analyst = caller(instance, "ana", "analyst")
    instance.policy.require(auditor, "ledger.read", Resource("Ledger", "main"))
    with pytest.raises(PermissionDeniedError):
        instance.policy.require(analyst, "ledger.read", Resource("Ledger", "main"))
    decisions = [e for e in events() if e["action"] == "policy.decision"]
    assert [(e["actor"], e["outcome"]) for e in decisions[-2:]] == [
        ("aud", "allowed"), ("ana", "denied")]
    assert decisions[-1]["resource"] == 'Ledger::"main"'
    assert decisions[-1]["details"] == {
        "action": "ledger.read", "decision": "deny", "errors": [],
        "policies": ["ledger-only-auditors-and-admins"], "policy_version": 1}


def test_a_second_process_sees_the_seed_and_later_activations(instance: Instance) -> None:
    from sovra.policy import PolicyService
    from sovra.policy.versions import VersionStore

    other = PolicyService(VersionStore(instance.engine), instance.ledger, refresh_s=0.0)
    assert [v.version for v in other.versions()] == [1]  # seeded once, not twice
    admin = caller(instance, "ann", "admin")
    approver = caller(instance, "carl", "approver")
    auditor = caller(instance, "aud", "auditor")
    proposal = instance.policy.propose(admin, instance.policy.show().text + EXTRA)
    instance.policy.approve(approver, proposal.version)
    assert other.decide(auditor, "models.use", Resource("Model", "m1")).allowed
    assert other.active.version == proposal.version
