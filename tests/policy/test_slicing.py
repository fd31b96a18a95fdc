"""Policy slicing changes nothing: the same decisions, policies and errors as the full set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.identity import Caller
from sovra.policy import (
    ACTIONS,
    ROLES,
    Classification,
    CompiledPolicies,
    Resource,
    default_policy_text,
)

EXTRA = "\n".join(
    f'@id("c{n}")\npermit(principal in Role::"analyst", action in '
    f'[Action::"collections.read", Action::"documents.read"], resource in Collection::"c{n}") '
    f'when {{ principal.org_unit == "ou{n % 3}" }};\n'
    f'@id("d{n}")\nforbid(principal, action == Action::"documents.read", '
    f'resource == Document::"d{n}") when {{ principal.jurisdiction == "US" }};\n'
    f'@id("m{n}")\npermit(principal, action == Action::"models.use", resource == Model::"m{n}");'
    for n in range(6))
# Principal scopes: a role some callers hold (also through `is ... in`), a role nobody
# holds, principals by id; a dropped policy that could apply would show as a changed
# decision or a lost determining policy.
PRINCIPAL_SCOPES = """
@id("auditor-reads-classified")
permit(principal is Principal in Role::"auditor", action == Action::"documents.read", resource)
when { resource has classification && resource.classification > 0 };
@id("service-forbidden-unclassified")
forbid(principal in Role::"service", action == Action::"documents.read", resource)
unless { resource has classification };
@id("nobody-role")
permit(principal in Role::"nobody", action, resource);
@id("principal-a")
permit(principal == Principal::"a", action == Action::"models.use", resource)
when { resource has classification };
@id("in-principal-b")
forbid(principal in Principal::"b", action, resource)
when { context.access_grant_approved };
@id("is-principal")
permit(principal is Principal, action == Action::"collections.read", resource)
when { principal in Role::"approver" };
"""
TEXT = default_policy_text() + "\n" + EXTRA + "\n" + PRINCIPAL_SCOPES


@pytest.fixture(scope="module")
def pair() -> tuple[CompiledPolicies, CompiledPolicies]:
    return CompiledPolicies(TEXT), CompiledPolicies(TEXT, slice_policies=False)


callers = st.builds(
    Caller, principal_id=st.sampled_from(["a", "b"]), kind=st.just("user"),
    roles=st.frozensets(st.sampled_from(sorted(ROLES))),
    clearance=st.sampled_from([c.label for c in Classification]),
    org_unit=st.sampled_from(["ou0", "ou1", "ou2"]), jurisdiction=st.sampled_from(["DE", "US"]))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, Resource]:
    action = draw(st.sampled_from(sorted(ACTIONS)))
    kind = draw(st.sampled_from(sorted(ACTIONS[action])))
    prefix = {"Document": "d", "Collection": "c", "Model": "m"}.get(kind, "x")
    if kind == "Principal" and draw(st.booleans()):  # the caller itself, or the other
        return action, Resource(kind, draw(st.sampled_from(["a", "b"])))
    attributes: dict[str, object] = {}
    if draw(st.booleans()):
        attributes["classification"] = draw(st.sampled_from(list(Classification)))
    if kind == "Document":
        attributes["collection"] = f"c{draw(st.integers(0, 7))}"
    return action, Resource(kind, f"{prefix}{draw(st.integers(0, 7))}", attributes)


@settings(max_examples=200, deadline=None)
@given(caller=callers, request=requests(), grant=st.booleans())
def test_sliced_and_full_sets_decide_identically(
        pair: tuple[CompiledPolicies, CompiledPolicies], caller: Caller,
        request: tuple[str, Resource], grant: bool) -> None:
    action, resource = request
    context = {"access_grant_approved": grant}
    sliced, full = (p.decide(caller, action, resource, context) for p in pair)
    assert sliced.allowed == full.allowed
    assert sorted(sliced.policy_ids) == sorted(full.policy_ids)
    assert sliced.errors == full.errors


def test_slicing_does_find_collection_rules_through_the_documents_parent(
        pair: tuple[CompiledPolicies, CompiledPolicies]) -> None:
    analyst = Caller("a", "user", frozenset({"analyst"}), "secret", "ou1", "DE")
    decision = pair[0].decide(analyst, "documents.read",
                              Resource("Document", "d9", {"collection": "c4"}))
    assert decision.allowed and decision.policy_ids == ("analyst-works-with-data", "c4")


def test_slices_leave_out_policies_for_roles_the_caller_does_not_hold(
        pair: tuple[CompiledPolicies, CompiledPolicies]) -> None:
    slices = pair[0]._slices
    assert slices is not None
    uids = [("Document", "d1"), ("Collection", "c1")]
    auditor, _ = slices.for_request("documents.read", uids, frozenset({"auditor"}))
    admin, _ = slices.for_request("documents.read", uids, frozenset({"admin", "auditor"}))
    everyone, _ = slices.for_request("documents.read", uids, frozenset(ROLES | {"nobody"}))
    assert len(auditor) < len(admin) < len(everyone)
    # Decisions still see the policies of the roles held, and of principals by id.
    analyst = Caller("a", "user", frozenset({"analyst"}), "secret", "ou1", "DE")
    model = Resource("Model", "m9", {"classification": "public"})
    decision, full = (p.decide(analyst, "models.use", model) for p in pair)
    assert decision == full and "principal-a" in decision.policy_ids


# -- sending Cedar only what the slice can read (sovra.policy.reads) ----------------------

READING = default_policy_text() + """
@id("reads-client-ip")
forbid(principal, action == Action::"models.use", resource)
when { context has client_ip && context.client_ip == "10.0.0.66" };
@id("credential-through-a-record")
permit(principal, action == Action::"bundles.read", resource)
when { {"c": context}.c has credential };
@id("reads-requester-unit")
permit(principal, action == Action::"models.approve", resource)
when { context has requester && context.requester.org_unit == "ou1" };
@id("reads-an-entity-literal")
forbid(principal, action == Action::"documents.read", resource)
when { Document::"d3" has org_unit && Document::"d3".org_unit == "ou1" };
@id("reads-approved")
permit(principal, action == Action::"models.use", resource)
when { resource has approved && resource.approved };
@id("reads-the-collection-unit")
permit(principal, action == Action::"collections.read", resource)
when { resource has org_unit && resource.org_unit == principal.org_unit };
"""


@pytest.fixture(scope="module")
def reading_pair() -> tuple[CompiledPolicies, CompiledPolicies]:
    return CompiledPolicies(READING), CompiledPolicies(READING, slice_policies=False)


# Valid values and values Cedar refuses (a float, null, a lone surrogate, an i64
# overflow, a level that is no level): a refused value must be refused either way.
odd_values = st.one_of(
    st.sampled_from(["ou1", "ou2", "10.0.0.66", "a", "\ud800", "Secret", "internal", ""]),
    st.booleans(), st.integers(-1, 4), st.just(2**63), st.just(1.5), st.none(),
    st.sampled_from(list(Classification)))
odd_maps = st.dictionaries(
    st.sampled_from(["org_unit", "approved", "classification", "requester", "proposer",
                     "client_ip", "credential", "access_grant_approved", "note", "\ud800"]),
    odd_values, max_size=4)


@settings(max_examples=300, deadline=None)
@given(caller=callers, via=st.sampled_from(["", "apikey:0123456789ab", "bad\ud800"]),
       kind_and_id=st.sampled_from([("Document", "d3"), ("Document", "d1"), ("Model", "m1"),
                                    ("Collection", "c1"), ("Bundle", "b1"), ("Policy", "2")]),
       attributes=odd_maps, context=st.none() | odd_maps)
def test_pruned_slices_decide_exactly_as_the_whole_set_given_everything(
        reading_pair: tuple[CompiledPolicies, CompiledPolicies], caller: Caller, via: str,
        kind_and_id: tuple[str, str], attributes: dict[str, object],
        context: dict[str, object] | None) -> None:
    kind, ident = kind_and_id
    caller = Caller(caller.principal_id, caller.kind, caller.roles, caller.clearance,
                    caller.org_unit, caller.jurisdiction, via=via)
    for action in sorted(a for a, kinds in ACTIONS.items() if kind in kinds):
        resource = Resource(kind, ident, attributes)
        pruned, full = (p.decide(caller, action, resource, context) for p in reading_pair)
        assert (pruned.allowed, sorted(pruned.policy_ids), pruned.errors) == (
            full.allowed, sorted(full.policy_ids), full.errors), action
