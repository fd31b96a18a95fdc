"""Segregation of duties, built in: whoever requested a change never approves it (pure).

The default pack says the same in Cedar (``segregation-of-duties`` in
``default/30-changes.cedar``), but a policy pack is data an approved change can rewrite:
a pack without that rule, approved by two people, would let a principal holding both
roles approve its own request. So every decision on an approval action is checked here
too, before Cedar is asked, and no policy version can turn it off (issue 13).

An approval action is any action with ``approve`` in its name (``policy.approve``,
``models.approve``, ``bundles.approve``, ``principals.approve``, and whatever a room
adds later). The requester is read where the rooms put it: ``context["requester"]``,
or the resource's ``requester`` / ``proposer`` attribute.
"""

from __future__ import annotations

from collections.abc import Mapping

from sovra.policy.decision import Decision, Resource
from sovra.vocabulary import Caller

BUILT_IN = "segregation-of-duties (built in)"
_REQUESTER_KEYS = ("requester", "proposer")


def is_approval(action: str) -> bool:
    """Whether ``action`` approves something someone else asked for."""
    return "approve" in action


def _principal_id(value: object) -> str | None:
    """A principal id given as text or as a Cedar entity reference."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        entity = value.get("__entity")
        if isinstance(entity, Mapping) and isinstance(entity.get("id"), str):
            return str(entity["id"])
    return None


def requesters(resource: Resource, context: Mapping[str, object] | None) -> frozenset[str]:
    """Everyone the request names as having asked for the change."""
    found: set[str] = set()
    sources: list[Mapping[str, object]] = [resource.attributes]
    if context:
        sources.append(context)
    for source in sources:
        for key in _REQUESTER_KEYS:
            who = _principal_id(source.get(key))
            if who:
                found.add(who)
    return frozenset(found)


def refuse_self_approval(caller: Caller, action: str, resource: Resource,
                         context: Mapping[str, object] | None) -> Decision | None:
    """A deny when ``caller`` would approve its own request; None when this rule is silent."""
    if not is_approval(action) or caller.principal_id not in requesters(resource, context):
        return None
    why = (f"{caller.principal_id} requested this change and may not approve it: "
           "a different approver must")
    return Decision(allowed=False, principal_id=caller.principal_id, action=action,
                    resource=resource.uid, policy_ids=(BUILT_IN,), errors=(why,))


__all__ = ["BUILT_IN", "is_approval", "refuse_self_approval", "requesters"]
