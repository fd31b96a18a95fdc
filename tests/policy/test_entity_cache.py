"""Cached entity handles change no decision and can never serve a stale caller.

``CompiledPolicies.decide`` parses each caller's entity once and reuses the handle
(``sovra.policy.entities``). These tests compare a long-lived, warm engine with the
uncached reference (cedarpy over the whole policy set with freshly built entity JSON),
and show that a change of policies, roles, group membership or attributes is seen by the
very next decision.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import cedarpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import (
    ACTIONS,
    ROLES,
    Classification,
    CompiledPolicies,
    Decision,
    Resource,
    default_policy_text,
)
from sovra.policy.entities import (
    RequestEntities,
    _reference_context_json,
    context_json,
    entities_json,
    resource_entity,
    resource_json,
)

EXTRA = "\n".join(
    f'@id("c{n}")\npermit(principal in Role::"analyst", action in '
    f'[Action::"collections.read", Action::"documents.read"], resource in Collection::"c{n}") '
    f'when {{ principal.org_unit == "ou{n % 3}" }};\n'
    f'@id("m{n}")\npermit(principal, action == Action::"models.use", resource == Model::"m{n}") '
    f'when {{ principal.jurisdiction == "DE" }};'
    for n in range(4)) + (
    '\n@id("ou0-reads-bundles")\npermit(principal, action == Action::"bundles.read", '
    'resource) when { principal.org_unit == "ou0" };')
TEXT = default_policy_text() + "\n" + EXTRA + "\n"
FULL_SET = cedarpy.PolicySet.from_str(TEXT)
WARM = CompiledPolicies(TEXT)  # shared across examples on purpose: its caches stay warm


def reference(caller: Caller, action: str, resource: Resource,
              context: Mapping[str, object] | None) -> Decision:
    """The decision with nothing cached or sliced: whole set, entities parsed anew."""
    request = {"principal": {"type": "Principal", "id": caller.principal_id},
               "action": {"type": "Action", "id": action},
               "resource": {"type": resource.type, "id": resource.id},
               "context": _reference_context_json(caller, context)}
    result = cedarpy.is_authorized(request, FULL_SET, entities_json(caller, resource))
    names = result.diagnostics.id_annotations_by_reason
    policy_ids = tuple(sorted(names.get(r, r) for r in result.diagnostics.reasons))
    errors = tuple(str(e) for e in result.diagnostics.errors)
    return Decision(result.allowed and not errors, caller.principal_id, action,
                    resource.uid, policy_ids, errors)


# Few principal ids and many attribute combinations: the same id comes back with other
# roles, clearance, unit and jurisdiction, which is what a stale cache would get wrong.
callers = st.builds(
    Caller, principal_id=st.sampled_from(["a", "b"]), kind=st.sampled_from(["user", "service"]),
    roles=st.frozensets(st.sampled_from(sorted(ROLES))),
    clearance=st.sampled_from([c.label for c in Classification]),
    org_unit=st.sampled_from(["ou0", "ou1", "ou2"]), jurisdiction=st.sampled_from(["DE", "US"]),
    via=st.sampled_from(["", "apikey:0123456789ab"]))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, Resource]:
    action = draw(st.sampled_from(sorted(ACTIONS)))
    kind = draw(st.sampled_from(sorted(ACTIONS[action])))
    prefix = {"Document": "d", "Collection": "c", "Model": "m"}.get(kind, "x")
    number = draw(st.integers(0, 4))
    ident = ("a" if number % 2 else "b") if kind == "Principal" else f"{prefix}{number}"
    attributes: dict[str, object] = {}
    if draw(st.booleans()):
        attributes["classification"] = draw(st.sampled_from(list(Classification)))
    if kind == "Document":
        attributes["collection"] = f"c{draw(st.integers(0, 4))}"
    if kind in {"Document", "Collection"} and draw(st.booleans()):
        attributes["org_unit"] = draw(st.sampled_from(["ou0", "ou1"]))
    if kind == "Model" and draw(st.booleans()):
        attributes["approved"] = draw(st.booleans())
    return action, Resource(kind, ident, attributes)


contexts = st.one_of(st.none(), st.fixed_dictionaries(
    {"access_grant_approved": st.booleans()},
    optional={"requester": st.sampled_from(["a", "b"]), "client_ip": st.just("10.0.0.1")}))


@settings(max_examples=300, deadline=None)
@given(caller=callers, request=requests(), context=contexts)
def test_warm_engine_decides_exactly_as_the_uncached_reference(
        caller: Caller, request: tuple[str, Resource],
        context: Mapping[str, object] | None) -> None:
    action, resource = request
    decision = WARM.decide(caller, action, resource, context)
    if resource.type == "Principal" and resource.id == caller.principal_id and \
            resource.attributes:  # one uid, two attribute sets: refused (fail closed)
        assert not decision.allowed and "the caller itself" in decision.errors[0]
        return
    assert decision == reference(caller, action, resource, context)


def test_caller_handles_are_parsed_once_per_caller_value() -> None:
    entities = RequestEntities()
    alice = Caller("alice", "user", frozenset({"analyst"}), "internal", "ou0", "DE")
    first = entities.caller_handle(alice)
    assert entities.caller_handle(Caller("alice", "user", frozenset({"analyst"}),
                                         "internal", "ou0", "DE")) is first
    promoted = Caller("alice", "user", frozenset({"analyst", "auditor"}), "internal", "ou0",
                      "DE")
    assert entities.caller_handle(promoted) is not first
    parents = json.loads(str(entities.caller_handle(promoted)))[0]["parents"]
    assert {"type": "Role", "id": "auditor"} in parents
    assert len(entities) == 2


def test_the_caller_cache_is_bounded_and_still_correct_after_eviction() -> None:
    entities = RequestEntities(callers_max=2)
    callers = [Caller(f"p{n}", "user", frozenset({"analyst"}), "secret", "ou0", "DE")
               for n in range(5)]
    handles = [entities.caller_handle(c) for c in callers]
    assert len(entities) == 2
    again = entities.caller_handle(callers[0])  # evicted, so parsed anew
    assert again is not handles[0]
    assert json.loads(str(again)) == json.loads(str(handles[0]))


DOC = Resource("Document", "d1", {"collection": "c0", "classification": "confidential"})
CHANGES = [
    # (action, resource, caller before, caller after): allowed before, denied after
    ("documents.read", DOC, {"roles": frozenset({"analyst"})}, {"roles": frozenset()}),
    ("documents.read", DOC, {"roles": frozenset({"analyst"}), "clearance": "secret"},
     {"roles": frozenset({"analyst"}), "clearance": "internal"}),
    ("bundles.read", Resource("Bundle", "b1"), {"org_unit": "ou0"}, {"org_unit": "ou1"}),
    ("models.use", Resource("Model", "m1"), {"jurisdiction": "DE"}, {"jurisdiction": "US"}),
]


def test_request_sets_are_reused_only_for_the_same_caller_and_resource() -> None:
    entities = RequestEntities(sets_max=3)
    alice = Caller("alice", "user", frozenset({"analyst"}), "internal", "ou0", "DE")
    doc = Resource("Document", "d1", {"collection": "c0", "classification": "internal"})
    first = entities.for_request(alice, doc)
    assert entities.for_request(alice, Resource("Document", "d1", {
        "collection": "c0", "classification": "internal"})) is first
    reclassified = entities.for_request(alice, Resource("Document", "d1", {
        "collection": "c0", "classification": "secret"}))
    moved = entities.for_request(alice, Resource("Document", "d1", {
        "collection": "c1", "classification": "internal"}))
    promoted = entities.for_request(
        Caller("alice", "user", frozenset({"analyst", "admin"}), "internal", "ou0", "DE"), doc)
    assert len({id(first), id(reclassified), id(moved), id(promoted)}) == 4
    assert entities.sets_cached == 3  # bounded: the oldest was evicted
    parsed = {e["uid"]["id"]: e for e in json.loads(str(reclassified))}
    assert parsed["d1"]["attrs"] == {"classification": 3}
    assert entities.for_request(alice, doc) is not first  # evicted, so built anew


@pytest.mark.parametrize(("action", "resource", "before", "after"), CHANGES,
                         ids=["role", "clearance", "org_unit", "jurisdiction"])
def test_a_changed_caller_is_decided_anew_by_a_warm_engine(
        action: str, resource: Resource, before: dict[str, object],
        after: dict[str, object]) -> None:
    engine = CompiledPolicies(TEXT)

    def zoe(changes: dict[str, object]) -> Caller:
        fields: dict[str, object] = {"roles": frozenset(), "clearance": "secret",
                                     "org_unit": "ou2", "jurisdiction": "US", **changes}
        return Caller("zoe", "user", **fields)  # type: ignore[arg-type]

    # Twice each: the second decision of each caller value comes from the warm cache.
    assert [engine.decide(zoe(before), action, resource).allowed for _ in range(2)] == [
        True, True]
    assert [engine.decide(zoe(after), action, resource).allowed for _ in range(2)] == [
        False, False]
    assert engine.decide(zoe(before), action, resource).allowed


def test_a_changed_resource_attribute_is_decided_anew() -> None:
    engine = CompiledPolicies(TEXT)
    analyst = Caller("zoe", "user", frozenset({"analyst"}), "internal", "ou0", "DE")
    for level, allowed in [("internal", True), ("secret", False), ("internal", True)]:
        doc = Resource("Document", "d1", {"collection": "c0", "classification": level})
        assert engine.decide(analyst, "documents.read", doc).allowed is allowed


def test_group_membership_and_policy_changes_reach_the_next_decision(
        instance: Instance) -> None:
    identity, policy = instance.identity, instance.policy
    identity.create_principal("t", "auditors", kind="group", roles=["auditor"])
    identity.create_principal("t", "erin", roles=["analyst"], clearance="secret")
    token = f"Bearer {identity.create_api_key('t', 'erin').token}"

    def can_read_ledger() -> bool:
        caller = identity.authenticate(token, "10.0.0.9")
        return policy.decide(caller, "ledger.read", Resource("Ledger")).allowed

    assert not can_read_ledger() and not can_read_ledger()
    identity.add_member("t", "auditors", "erin")
    assert can_read_ledger() and can_read_ledger()
    identity.set_disabled("t", "auditors")
    assert not can_read_ledger()
    identity.set_disabled("t", "auditors", disabled=False)
    assert can_read_ledger()
    identity.remove_member("t", "auditors", "erin")
    assert not can_read_ledger()

    # A new policy version is a new compiled set with empty caches of its own.
    identity.create_principal("t", "ann", roles=["admin"], clearance="secret")
    identity.create_principal("t", "carl", roles=["approver"], clearance="secret")
    erin = identity.authenticate(token, "10.0.0.9")
    model = Resource("Model", "m7")
    assert policy.decide(erin, "models.use", model).allowed
    ban = ('\n@id("nobody-uses-m7")\nforbid(principal, action == Action::"models.use", '
           'resource == Model::"m7");\n')
    proposal = policy.propose(identity.caller_for("ann"), policy.show().text + ban)
    policy.approve(identity.caller_for("carl"), proposal.version)
    decision = policy.decide(erin, "models.use", model)
    assert not decision.allowed and decision.policy_ids == ("nobody-uses-m7",)


# -- the JSON writers ----------------------------------------------------------------

names = st.sampled_from(["classification", "max_classification", "proposer", "requester",
                         "owner", "collection", "org_unit", "approved", "legal_hold",
                         "access_grant_approved", "credential", "client_ip", "x\u00e9\"\\"])
values = st.one_of(
    st.text(max_size=8), st.integers(-2, 5), st.booleans(), st.sampled_from(list(Classification)),
    st.sampled_from(["Secret", " internal ", "PUBLIC", "top-secret", ""]),
    st.floats(allow_nan=False) | st.none(), st.lists(st.text(max_size=3), max_size=2),
    st.frozensets(st.sampled_from(["a", "b"]), max_size=2))
attribute_maps = st.dictionaries(names | st.integers(0, 2), values, max_size=4)


def outcome(build: Callable[[], str]) -> object:
    """A writer's JSON in canonical form (so true != 1), or the type of what it raised."""
    try:
        return json.dumps(json.loads(build()), sort_keys=True)
    except Exception as exc:  # the two writers must fail alike
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(["Document", "Model", "Policy"]), ident=st.text(max_size=6),
       attributes=attribute_maps)
def test_resource_json_is_the_general_encoders_json(kind: str, ident: str,
                                                    attributes: dict[object, object]) -> None:
    resource = Resource(kind, ident, attributes)  # type: ignore[arg-type]
    assert outcome(lambda: resource_json(resource)) == outcome(
        lambda: json.dumps(resource_entity(resource)))


@settings(max_examples=400, deadline=None)
@given(caller=callers, context=st.none() | attribute_maps)
def test_context_json_is_the_general_encoders_json(
        caller: Caller, context: dict[object, object] | None) -> None:
    assert outcome(lambda: context_json(caller, context)) == outcome(  # type: ignore[arg-type]
        lambda: _reference_context_json(caller, context))  # type: ignore[arg-type]
