"""The Cedar engine: a parsed, validated policy set that answers authorization requests.

Pure: policy text and values in, ``Decision`` out. Parsing happens once when the set is
compiled (the handle is reused for every decision: the issue's "do not re-parse per
request"); per decision we only build two small entities as JSON and hand Cedar the
slice of the set that can apply (``slicing``). The principal's
entity JSON is cached per ``Caller`` because callers repeat far more than they change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources

import cedarpy

from sovra.errors import PolicyValidationError, SovraError
from sovra.identity.caller import Caller
from sovra.policy.actions import ACTIONS
from sovra.policy.classification import Classification
from sovra.policy.decision import Decision, Resource
from sovra.policy.slicing import SlicedPolicies
from sovra.policy.source import validate

# Attributes holding a level (converted to its integer) or a principal (an entity ref).
_LEVEL_ATTRS = frozenset({"classification", "max_classification"})
_PRINCIPAL_ATTRS = frozenset({"proposer", "requester", "owner"})
_PRINCIPAL_CACHE_MAX = 4096


@cache
def schema_text() -> str:
    """The Cedar schema shipped with Sovra (``schema.cedarschema``)."""
    return resources.files("sovra.policy").joinpath("schema.cedarschema").read_text("utf-8")


@cache
def load_schema() -> cedarpy.Schema:
    try:
        return cedarpy.Schema.from_str(schema_text())
    except ValueError as exc:  # a packaging bug, never user input
        raise PolicyValidationError(f"the shipped Cedar schema is invalid: {exc}") from exc


def default_policy_text() -> str:
    """The default policy pack: every ``default/*.cedar`` file, in name order."""
    folder = resources.files("sovra.policy").joinpath("default")
    names = sorted(e.name for e in folder.iterdir() if e.name.endswith(".cedar"))
    return "\n".join(
        f"// ---- {name}\n{folder.joinpath(name).read_text('utf-8')}" for name in names)


def principal_ref(principal_id: str) -> dict[str, object]:
    """A Cedar JSON entity reference to a principal (for attributes and context)."""
    return {"__entity": {"type": "Principal", "id": principal_id}}


def _cedar_value(name: str, value: object) -> object:
    if name in _LEVEL_ATTRS and isinstance(value, str | int | Classification):
        return int(Classification.parse(value))
    if name in _PRINCIPAL_ATTRS and isinstance(value, str):
        return principal_ref(value)
    if isinstance(value, frozenset | set | tuple):
        return list(value)
    return value


def _principal_entity(caller: Caller) -> dict[str, object]:
    return {
        "uid": {"type": "Principal", "id": caller.principal_id},
        "attrs": {
            "kind": caller.kind,
            "clearance": int(Classification.parse(caller.clearance)),
            "org_unit": caller.org_unit,
            "jurisdiction": caller.jurisdiction,
        },
        "parents": [{"type": "Role", "id": role} for role in sorted(caller.roles)],
    }


def _parents(resource: Resource) -> list[tuple[str, str]]:
    collection = resource.attributes.get("collection")
    if resource.type == "Document" and isinstance(collection, str):
        return [("Collection", collection)]
    return []


def _resource_entity(resource: Resource) -> dict[str, object]:
    attrs = {k: _cedar_value(k, v) for k, v in resource.attributes.items() if k != "collection"}
    parents = [{"type": kind, "id": uid} for kind, uid in _parents(resource)]
    return {"uid": {"type": resource.type, "id": resource.id}, "attrs": attrs,
            "parents": parents}


def _context(caller: Caller, context: Mapping[str, object] | None) -> dict[str, object]:
    built: dict[str, object] = {"access_grant_approved": False}
    if caller.via:
        built["credential"] = caller.via
    for name, value in (context or {}).items():
        built[name] = _cedar_value(name, value)
    return built


class CompiledPolicies:
    """A validated policy set, parsed once. Immutable; build a new one to change it."""

    def __init__(self, text: str, *, version: int = 0, source: str = "<policy>",
                 slice_policies: bool = True) -> None:
        schema = load_schema()
        validate(text, schema, source)
        try:
            self._set = cedarpy.PolicySet.from_str(text)
        except ValueError as exc:
            raise PolicyValidationError(f"{source}: {exc}") from exc
        self._slices = SlicedPolicies(text, self._set) if slice_policies else None
        self.text = text
        self.version = version
        self.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._principals: dict[Caller, str] = {}

    def __len__(self) -> int:
        return len(self._set)

    def _principal_json(self, caller: Caller) -> str:
        found = self._principals.get(caller)
        if found is None:
            if len(self._principals) >= _PRINCIPAL_CACHE_MAX:
                self._principals.clear()
            found = json.dumps(_principal_entity(caller))
            self._principals[caller] = found
        return found

    def decide(self, caller: Caller, action: str, resource: Resource,
               context: Mapping[str, object] | None = None) -> Decision:
        """Ask Cedar; deny on unknown actions, wrong resource types and any error."""
        applies_to = ACTIONS.get(action)
        if applies_to is None or resource.type not in applies_to:
            why = (f"unknown action {action!r}" if applies_to is None else
                   f"action {action!r} does not apply to {resource.type}")
            return Decision.refused(caller.principal_id, action, resource.uid, why)
        try:
            entities = [self._principal_json(caller)]
            if not (resource.type == "Principal" and resource.id == caller.principal_id):
                entities.append(json.dumps(_resource_entity(resource)))
            request = {
                "principal": {"type": "Principal", "id": caller.principal_id},
                "action": {"type": "Action", "id": action},
                "resource": {"type": resource.type, "id": resource.id},
                "context": json.dumps(_context(caller, context)),
            }
            policy_set = self._set if self._slices is None else self._slices.for_request(
                action, [(resource.type, resource.id), *_parents(resource)])
            result = cedarpy.is_authorized(request, policy_set, "[" + ",".join(entities) + "]")
        except (ValueError, TypeError, SovraError) as exc:  # malformed input: fail closed
            return Decision.refused(caller.principal_id, action, resource.uid,
                                    f"request rejected by the engine: {exc}")
        names = result.diagnostics.id_annotations_by_reason
        # Cedar returns reasons in no stable order; sorted, the ledger entry is reproducible.
        policy_ids = tuple(sorted(names.get(r, r) for r in result.diagnostics.reasons))
        errors = tuple(str(e) for e in result.diagnostics.errors)
        # Cedar skips a policy whose evaluation errors; we deny instead (fail closed),
        # so an erroring forbid can never turn into an allow.
        allowed = result.allowed and not errors
        return Decision(allowed, caller.principal_id, action, resource.uid, policy_ids, errors)


__all__ = ["CompiledPolicies", "default_policy_text", "load_schema", "principal_ref",
           "schema_text"]
