"""Policy slicing: evaluate only the policies that can apply to a request.

Cedar evaluates every policy in the set it is given, so a decision over 100 policies
costs about 100 scope checks. A policy whose action scope excludes the request's
action, or whose resource scope names an entity (``resource == E`` / ``resource in E``)
that is neither the resource nor one of its ancestors, can be neither satisfied nor
erroring (Cedar evaluates the scope before the conditions, with short-circuit ``&&``), so
leaving it out changes no decision, no determining policy and no error. This is the
"policy slicing" the Cedar authors describe for large policy stores.

We slice once per policy set by action, then per request by the resource's own uid and
its parents (which Sovra builds itself, so the ancestor set is complete). Each distinct
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


class SlicedPolicies:
    """Per-action, per-resource-ancestry slices of one policy set."""

    def __init__(self, text: str, full: cedarpy.PolicySet) -> None:
        self._full = full
        est = json.loads(cedarpy.policies_to_json_str(text)) if text.strip() else {}
        self._enabled = not est.get("templates") and not est.get("templateLinks")
        static: dict[str, Any] = est.get("staticPolicies", {})
        self._general: dict[str, dict[str, Any]] = {a: {} for a in ACTIONS}
        self._pinned: dict[str, dict[EntityUid, dict[str, Any]]] = {a: {} for a in ACTIONS}
        for policy_id, policy in static.items():
            pinned = _resource_key(policy["resource"])
            for action in ACTIONS:
                if not _action_matches(policy["action"], action):
                    continue
                if pinned is None:
                    self._general[action][policy_id] = policy
                else:
                    self._pinned[action].setdefault(pinned, {})[policy_id] = policy
        self._cache: dict[tuple[str, tuple[EntityUid, ...]], Slice] = {}
        self._lock = threading.Lock()

    def for_request(self, action: str, resource_uids: Iterable[EntityUid]) -> Slice:
        """The slice for ``action`` on a resource with these uids (itself and ancestors),
        and what its policies can read. The whole set (not sliced) reads everything."""
        if not self._enabled or action not in self._general:
            return self._full, ALL
        pinned = self._pinned[action]
        hits = [uid for uid in resource_uids if uid in pinned] if pinned else []
        # Sorted and unique, so one slice per set of uids; at most one needs no sorting.
        keys = tuple(hits) if len(hits) < 2 else tuple(sorted(set(hits)))
        found = self._cache.get((action, keys))
        if found is None:
            found = self._build(action, keys)
        return found

    def _build(self, action: str, keys: tuple[EntityUid, ...]) -> Slice:
        chosen = dict(self._general[action])
        for key in keys:
            chosen.update(self._pinned[action][key])
        document = {"staticPolicies": chosen, "templates": {}, "templateLinks": []}
        built = (cedarpy.PolicySet.from_json_str(json.dumps(document)),
                 policy_reads(chosen.values()))
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[(action, keys)] = built
        return built


__all__ = ["Slice", "SlicedPolicies"]
