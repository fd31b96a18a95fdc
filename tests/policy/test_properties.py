"""Property tests (issue 4): clearance below classification never allows; nothing allows
with an empty policy set. Random principals, resources, actions and contexts."""

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

LEVELS = list(Classification)
ACTION_TYPES = [(action, kind) for action, kinds in sorted(ACTIONS.items())
                for kind in sorted(kinds)]
# Actions a default forbid refuses unless the resource carries attributes these random
# resources never have, so even the generous pack refuses them: the approval steps and
# the quorum of the lockbox (60-lockbox.cedar: who asked, who voted, how many approved).
# Without them the vacuity check below fails whenever hypothesis draws one of them.
FORBIDDEN_WITHOUT_ATTRIBUTES = frozenset({
    "ledger.read", "ledger.witness", "policy.approve", "models.approve", "bundles.approve",
    "principals.approve",
    "lockbox.approve", "lockbox.deny", "lockbox.review", "lockbox.activate"})
# A customer adding the most generous permit must still not get past the clearance rule.
GENEROUS = '\n@id("permit-everything")\npermit(principal, action, resource);\n'

callers = st.builds(
    Caller,
    principal_id=st.text("abcdefgh0123456789-", min_size=1, max_size=12),
    kind=st.sampled_from(["user", "service"]),
    roles=st.frozensets(st.sampled_from(sorted(ROLES))),
    clearance=st.sampled_from([level.label for level in LEVELS]),
    org_unit=st.text(max_size=8),
    jurisdiction=st.sampled_from(["", "DE", "FR", "US"]),
)
contexts = st.fixed_dictionaries({"access_grant_approved": st.booleans()})


@pytest.fixture(scope="module")
def packs() -> list[CompiledPolicies]:
    return [CompiledPolicies(default_policy_text()),
            CompiledPolicies(default_policy_text() + GENEROUS)]


@settings(max_examples=150, deadline=None)
@given(caller=callers, target=st.sampled_from(ACTION_TYPES), level=st.sampled_from(LEVELS),
       resource_id=st.text("xyz0123456789", min_size=1, max_size=6), context=contexts)
def test_no_allow_where_clearance_is_below_classification(
        packs: list[CompiledPolicies], caller: Caller, target: tuple[str, str],
        level: Classification, resource_id: str, context: dict[str, object]) -> None:
    action, kind = target
    resource = Resource(kind, resource_id, {"classification": level})
    for pack in packs:
        decision = pack.decide(caller, action, resource, context)
        if Classification.parse(caller.clearance) < level:
            assert not decision.allowed, decision
    # The generous pack shows the property is not vacuous: at or above, it allows.
    # (A resource that is the caller itself cannot carry attributes: always refused.)
    itself = kind == "Principal" and resource_id == caller.principal_id
    if Classification.parse(caller.clearance) >= level and "operator" not in caller.roles \
            and not itself and action not in FORBIDDEN_WITHOUT_ATTRIBUTES:
        assert packs[1].decide(caller, action, resource, context).allowed


@settings(max_examples=150, deadline=None)
@given(caller=callers, target=st.sampled_from(ACTION_TYPES),
       level=st.none() | st.sampled_from(LEVELS), context=contexts)
def test_no_allow_with_an_empty_policy_set(caller: Caller, target: tuple[str, str],
                                           level: Classification | None,
                                           context: dict[str, object]) -> None:
    action, kind = target
    attributes = {} if level is None else {"classification": level}
    decision = EMPTY.decide(caller, action, Resource(kind, "r", attributes), context)
    assert not decision.allowed
    assert decision.policy_ids == ()


EMPTY = CompiledPolicies("")
