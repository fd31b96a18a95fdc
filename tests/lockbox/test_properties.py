"""Property: no action succeeds outside the scope and lifetime of an active grant.

Over random grants (scope, actions, lifetime, state), principals, actions, resources and
times, the default policy pack with the lockbox's context allows a privileged action
only if the principal holds it without any grant, or a grant covers exactly that action
on that resource at that instant. The decision goes through the real Cedar engine; the
grant through the real pure core (``why_unusable`` and ``grant_context``).
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.identity import Caller
from sovra.lockbox import PRIVILEGED_ACTIONS, Limits, Scope, Status
from sovra.lockbox.grants import grant_context
from sovra.lockbox.lifecycle import why_unusable
from sovra.lockbox.values import AccessRequest
from sovra.policy import ACTIONS, CompiledPolicies, Resource, default_policy_text

POLICIES = CompiledPolicies(default_policy_text())
LIMITS = Limits()
T0 = 1_800_000_000.0
DOCS = {"d-1": "vault", "d-2": "vault", "d-3": "notes"}
SCOPES = [Scope("collection", "vault"), Scope("collection", "notes"),
          Scope("document", "d-1"), Scope("keyring", "k-1"), Scope("instance")]
RESOURCES = [Resource("Collection", "vault"), Resource("Collection", "notes"),
             Resource("Collection", "*"), Resource("Document", "d-1"),
             Resource("Document", "d-3"), Resource("Keys", "k-1"), Resource("Keys", "k-2"),
             Resource("Principal", "p-1"), Resource("Ledger"), Resource("Model", "m-1"),
             Resource("Bundle", "b-1")]
ROLE_SETS = [frozenset({"operator"}), frozenset(), frozenset({"breakglass"}),
             frozenset({"operator", "approver"}), frozenset({"auditor"})]


def collection_of(document_id: str) -> str | None:
    return DOCS.get(document_id)


grants = st.builds(
    lambda scope, actions, granted, duration, status, single_use, used: AccessRequest(
        id="ar-1", requester="p", jurisdiction="EU", source="", scope=scope,
        actions=tuple(sorted(actions)), reason="r", ticket="", duration_s=duration,
        urgency="normal", single_use=single_use, breakglass=False, tier=3,
        destructive=False, required=2, status=status, created_at=T0 - 60,
        request_expires_at=T0 + 3600, last_event_at=T0,
        granted_at=T0 if status is Status.ACTIVE else None,
        expires_at=T0 + duration if status is Status.ACTIVE else None,
        first_used_at=(T0 + used) if single_use and used is not None else None),
    st.sampled_from(SCOPES), st.sets(st.sampled_from(sorted(PRIVILEGED_ACTIONS)), min_size=1),
    st.just(T0), st.floats(1, 8 * 3600), st.sampled_from(list(Status)), st.booleans(),
    st.none() | st.floats(0, 8 * 3600))


@settings(max_examples=400, deadline=None)
@given(grant=grants, roles=st.sampled_from(ROLE_SETS),
       action=st.sampled_from(sorted(PRIVILEGED_ACTIONS)),
       resource=st.sampled_from(RESOURCES), offset=st.floats(-600, 10 * 3600))
def test_no_action_succeeds_outside_an_active_grant(
        grant: AccessRequest, roles: frozenset[str], action: str, resource: Resource,
        offset: float) -> None:
    if resource.type not in ACTIONS[action]:
        return
    caller = Caller("p", "user", roles, "secret", jurisdiction="EU")
    now = T0 + offset
    grant = dataclasses.replace(grant, requester=caller.principal_id)
    why = why_unusable(grant, action, resource.type, resource.id, now=now, limits=LIMITS,
                       collection_of=collection_of)
    context = None if why is not None else grant_context(grant)
    allowed = POLICIES.decide(caller, action, resource, context).allowed
    standing = POLICIES.decide(caller, action, resource).allowed
    if allowed and not standing:
        # Allowed only because of the grant: it must be live and cover exactly this.
        assert why is None
        assert grant.status is Status.ACTIVE and grant.expires_at is not None
        assert grant.granted_at is not None and grant.granted_at <= now < grant.expires_at
        assert action in grant.actions
        assert grant.scope.covers(resource.type, resource.id, collection_of)
    if "operator" in roles and why is not None:
        assert not allowed  # an operator holds nothing without a grant


def test_the_catalogue_and_the_policy_grant_the_same_actions() -> None:
    """60-lockbox.cedar permits under a grant exactly the catalogue's actions."""
    caller = Caller("p", "user", frozenset(), "secret")
    context = {"access_grant_approved": True, "grant_id": "ar-1", "grant_scope": "instance"}

    def permitted(under: dict[str, object] | None) -> set[str]:
        return {action for action, kinds in ACTIONS.items()
                if any(POLICIES.decide(caller, action, Resource(kind, "x"), under).allowed
                       for kind in kinds)}

    # What the grant adds to what anyone may do (some rooms permit everyone something).
    added = permitted(context) - permitted(None)
    assert added == set(PRIVILEGED_ACTIONS) - {"ledger.witness"}
    # ledger.witness stays with auditors and admins (20-ledger.cedar forbids the rest).
    assert "ledger.witness" in PRIVILEGED_ACTIONS
