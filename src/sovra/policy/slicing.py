"""Policy slicing: evaluate only the policies that can apply to a request.

Cedar evaluates every policy in the set it is given, so a decision over 100 policies
costs about 100 scope checks. A policy whose action scope excludes the request's
action, or whose resource scope names an entity (``resource == E`` / ``resource in E``)
that is neither the resource nor one of its ancestors, can be neither satisfied nor
erroring (Cedar evaluates the scope before the conditions, with short-circuit ``&&``), so
leaving it out changes no decision, no determining policy and no error. This is the
"policy slicing" the Cedar authors describe for large policy stores.

Likewise a policy whose principal scope requires a role (``principal in Role::"r"``, also
``principal is Principal in Role::"r"``) that the caller does not hold: the request's
principal is always a ``Principal`` whose only ancestors are its roles (Sovra builds the
entity set itself: the caller's parents are exactly ``Caller.roles``, and no entity in a
request has a ``Role`` as child with further parents), so such a scope is false.

We slice once per policy set by action, then per request by the resource's own uid and
its parents (which Sovra builds itself, so the ancestor set is complete) and by the roles
the caller holds among those the action's policies require. Each distinct
slice is parsed once (from Cedar's JSON form, keeping policy ids and ``@id``
annotations) and cached, with the attribute names its policies can read (``reads``), so
a decision sends Cedar only those. Policy sets with templates are not sliced.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import cedarpy

from sovra.policy.actions import ACTIONS
from sovra.policy.reads import ALL, Reads, policy_reads

EntityUid = tuple[str, str]
Slice = tuple[cedarpy.PolicySet, Reads]
_CACHE_MAX = 1024


def _action_matches(scope: Mapping[str, Any], action: str) -> bool:
    op = scope.get("op")
    if op == "All":
        return True
    listed = scope.get("entities") or ([scope["entity"]] if "entity" in scope else [])
    # Sovra's schema declares no action groups, so `in` is membership in the list.
    return any(e.get("type") == "Action" and e.get("id") == action for e in listed)


def _resource_key(scope: Mapping[str, Any]) -> EntityUid | None:
    """The entity a resource scope is pinned to (``==`` or ``in``), else None."""
    entity = scope.get("entity")
    if scope.get("op") in {"==", "in"} and isinstance(entity, Mapping):
        return (str(entity["type"]), str(entity["id"]))
    return None


def _required_role(scope: Mapping[str, Any]) -> str | None:
    """The role a principal scope requires (``in Role::"r"``, ``is Principal in
    Role::"r"``), else None: such a policy is kept for every caller."""
    op = scope.get("op")
    if op == "is":
        if scope.get("entity_type") != "Principal" or not isinstance(scope.get("in"), Mapping):
            return None
        scope = scope["in"]
    elif op != "in":
        return None
    entity = scope.get("entity")
    if isinstance(entity, Mapping) and entity.get("type") == "Role" and isinstance(
            entity.get("id"), str):
        return str(entity["id"])
    return None


class SlicedPolicies:
    """Per-action, per-resource-ancestry slices of one policy set."""

    def __init__(self, text: str, full: cedarpy.PolicySet) -> None:
        self._full = full
        est = json.loads(cedarpy.policies_to_json_str(text)) if text.strip() else {}
        self._enabled = not est.get("templates") and not est.get("templateLinks")
        static: dict[str, Any] = est.get("staticPolicies", {})
        # Per action: each policy that can apply, with the resource it is pinned to and
        # the role it requires (None: any); the pinned resources; the required roles.
        self._policies: dict[str, list[tuple[str, Any, EntityUid | None, str | None]]] = {
            a: [] for a in ACTIONS}
        self._pinned: dict[str, set[EntityUid]] = {a: set() for a in ACTIONS}
        roles: dict[str, set[str]] = {a: set() for a in ACTIONS}
        for policy_id, policy in static.items():
            pinned = _resource_key(policy["resource"])
            role = _required_role(policy["principal"])
            for action in ACTIONS:
                if not _action_matches(policy["action"], action):
                    continue
                self._policies[action].append((policy_id, policy, pinned, role))
                if pinned is not None:
                    self._pinned[action].add(pinned)
                if role is not None:
                    roles[action].add(role)
        self._roles = {a: frozenset(r) for a, r in roles.items()}
        self._cache: dict[tuple[str, tuple[EntityUid, ...], frozenset[str]], Slice] = {}
        self._lock = threading.Lock()

    def for_request(self, action: str, resource_uids: Iterable[EntityUid],
                    roles: frozenset[str]) -> Slice:
        """The slice for ``action`` on a resource with these uids (itself and ancestors),
        asked by a principal holding ``roles`` (all its roles, ``Caller.roles``), and what
        its policies can read. The whole set (not sliced) reads everything."""
        if not self._enabled or action not in self._policies:
            return self._full, ALL
        pinned = self._pinned[action]
        hits = [uid for uid in resource_uids if uid in pinned] if pinned else []
        # Sorted and unique, so one slice per set of uids; at most one needs no sorting.
        keys = tuple(hits) if len(hits) < 2 else tuple(sorted(set(hits)))
        # Only the roles some policy of this action requires tell slices apart.
        held = roles & self._roles[action]
        found = self._cache.get((action, keys, held))
        if found is None:
            found = self._build(action, keys, held)
        return found

    def _build(self, action: str, keys: tuple[EntityUid, ...], held: frozenset[str]) -> Slice:
        chosen = {policy_id: policy for policy_id, policy, pinned, role in self._policies[action]
                  if (pinned is None or pinned in keys) and (role is None or role in held)}
        document = {"staticPolicies": chosen, "templates": {}, "templateLinks": []}
        built = (cedarpy.PolicySet.from_json_str(json.dumps(document)),
                 policy_reads(chosen.values()))
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[(action, keys, held)] = built
        return built


__all__ = ["Slice", "SlicedPolicies"]
