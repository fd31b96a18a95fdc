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
TEXT = default_policy_text() + "\n" + EXTRA + "\n"


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
