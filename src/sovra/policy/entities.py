"""The Cedar entity set of one request: the caller and the resource, parsed once each.

Cedar needs the request's entities as a parsed ``Entities`` set. Parsing Cedar's entity
JSON is the largest cost of a decision inside cedarpy (about half of it, measured with
callgrind: serde tries each JSON value form in turn and formats an error for every miss),
so we parse as little as possible per request:

* the caller's entity (attributes and role parents) is parsed once per distinct
  ``Caller`` value and kept as a handle;
* per request only the resource entity is parsed, added to a copy of the caller's handle
  (``Entities.with_added_json_str``: the base is cloned, not re-parsed).

The caches are keyed by *values*, never by ids: a ``Caller`` carries every attribute its
entity is built from (roles already include those inherited from groups), so a changed
role, clearance, unit, jurisdiction or group membership is a different key and can never
meet an old handle. Nothing needs to be invalidated, and nothing can be served stale.
Entries are only evicted to bound memory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TypeVar

import cedarpy

from sovra.errors import InvalidInputError
from sovra.policy.classification import Classification
from sovra.policy.decision import Resource
from sovra.vocabulary import Caller

# Attributes holding a level (converted to its integer) or a principal (an entity ref).
_LEVEL_ATTRS = frozenset({"classification", "max_classification"})
_PRINCIPAL_ATTRS = frozenset({"proposer", "requester", "owner"})
_CALLERS_MAX = 4096
_SETS_MAX = 256
_K = TypeVar("_K")
# One shared encoder: ``json.dumps`` with default arguments uses an equivalent one.
_encode = json.JSONEncoder().encode
# The same function json.dumps uses for a str (quotes and escapes, ASCII only).
_quote = json.encoder.encode_basestring_ascii
# A level's JSON by its usual spellings (lower-case name, integer, member). Only for
# exactly these types: True == 1 and 1.0 == 1 must still go to ``Classification.parse``.
_LEVEL_JSON: dict[object, str] = {
    key: str(int(level)) for level in Classification for key in (level.label, int(level))}
_LEVEL_TYPES = (str, int, Classification)


def principal_ref(principal_id: str) -> dict[str, object]:
    """A Cedar JSON entity reference to a principal (for attributes and context)."""
    return {"__entity": {"type": "Principal", "id": principal_id}}


def cedar_value(name: str, value: object) -> object:
    """A Python attribute or context value as Cedar JSON (levels as integers)."""
    if name in _LEVEL_ATTRS and isinstance(value, str | int | Classification):
        return int(Classification.parse(value))
    if name in _PRINCIPAL_ATTRS and isinstance(value, str):
        return principal_ref(value)
    if isinstance(value, frozenset | set | tuple):
        return list(value)
    return value


def principal_entity(caller: Caller) -> dict[str, object]:
    """The caller as a Cedar entity: its attributes, and its roles as parents."""
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


def resource_parents(resource: Resource) -> list[tuple[str, str]]:
    """The resource's ancestors: a document is in its collection."""
    collection = resource.attributes.get("collection")
    if resource.type == "Document" and isinstance(collection, str):
        return [("Collection", collection)]
    return []


def resource_entity(resource: Resource) -> dict[str, object]:
    """The resource as a Cedar entity (``collection`` becomes its parent)."""
    attrs = {k: cedar_value(k, v) for k, v in resource.attributes.items() if k != "collection"}
    parents = [{"type": kind, "id": uid} for kind, uid in resource_parents(resource)]
    return {"uid": {"type": resource.type, "id": resource.id}, "attrs": attrs,
            "parents": parents}


def is_caller_itself(caller: Caller, resource: Resource) -> bool:
    """Whether the resource is the calling principal (then it is one entity, not two)."""
    return resource.type == "Principal" and resource.id == caller.principal_id


def entities_json(caller: Caller, resource: Resource) -> str:
    """The request's entities as one Cedar JSON document (the uncached reference form)."""
    entities = [principal_entity(caller)]
    if not is_caller_itself(caller, resource):
        entities.append(resource_entity(resource))
    return _encode(entities)


def _value_json(name: str, value: object) -> str:
    """``cedar_value`` as JSON text, written directly for the common kinds of value.

    Produces the JSON ``json.dumps(cedar_value(name, value))`` produces (up to
    whitespace), without building the value and running the general encoder, which
    was a third of our own time per decision. Anything unusual goes to the encoder.
    """
    if name in _LEVEL_ATTRS:
        if type(value) in _LEVEL_TYPES:
            found = _LEVEL_JSON.get(value)
            if found is not None:
                return found
        value = cedar_value(name, value)  # the level's integer (raises for no level)
    elif name in _PRINCIPAL_ATTRS and isinstance(value, str):
        return '{"__entity":{"type":"Principal","id":' + _quote(value) + "}}"
    # In the order json's encoder checks them: str, then bool before int.
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    return _encode(cedar_value(name, value))


def _valid_text(text: object) -> bool:
    """A str Cedar's JSON parser accepts (no lone surrogates)."""
    if not isinstance(text, str):
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _droppable(name: object, value: object) -> bool:
    """Whether Cedar would certainly accept this attribute or context value.

    Only such values are left out when no policy can read them (``reads``): leaving
    out one Cedar would have rejected would turn a refused request into a decision.
    """
    if not _valid_text(name):
        return False
    if name in _LEVEL_ATTRS:
        return type(value) in _LEVEL_TYPES and value in _LEVEL_JSON
    if isinstance(value, str):
        return _valid_text(value)
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63  # Cedar's Long
    return False


def resource_json(resource: Resource, keep: frozenset[str] | None = None) -> str:
    """``resource_entity`` as Cedar JSON text, written directly (see ``_value_json``).

    With ``keep``, attributes not named in it are left out where ``_droppable``.
    """
    try:
        fields = ",".join(_quote(name) + ":" + _value_json(name, value)
                          for name, value in resource.attributes.items()
                          if name != "collection" and (
                              keep is None or name in keep or not _droppable(name, value)))
        uid = '{"type":' + _quote(resource.type) + ',"id":' + _quote(resource.id) + "}"
    except TypeError:  # a name or id that is not a str: as the general encoder does it
        return _encode(resource_entity(resource))
    parents = ",".join('{"type":' + _quote(kind) + ',"id":' + _quote(parent) + "}"
                       for kind, parent in resource_parents(resource))
    return '{"uid":' + uid + ',"attrs":{' + fields + '},"parents":[' + parents + "]}"


def context_json(caller: Caller, context: Mapping[str, object] | None,
                 keep: frozenset[str] | None = None) -> str:
    """The request context as Cedar JSON: the lockbox flags, the credential, the rest.

    The grant flag defaults to false, the enforcement flag to true (fail closed) and
    the credential to the caller's; a value in
    ``context`` replaces either (each name appears once: Cedar rejects duplicates).
    With ``keep``, values not named in it are left out where ``_droppable``.
    """
    fields = []
    if (not context or "access_grant_approved" not in context) and (
            keep is None or "access_grant_approved" in keep):
        fields.append('"access_grant_approved":false')
    # Fail closed: unless the policy service says otherwise, the lockbox is enforced.
    if (not context or "lockbox_enforced" not in context) and (
            keep is None or "lockbox_enforced" in keep):
        fields.append('"lockbox_enforced":true')
    if caller.via and (not context or "credential" not in context) and (
            keep is None or "credential" in keep or not _valid_text(caller.via)):
        fields.append('"credential":' + _quote(caller.via))
    if context:
        try:
            fields.extend(_quote(name) + ":" + _value_json(name, value)
                          for name, value in context.items()
                          if keep is None or name in keep or not _droppable(name, value))
        except TypeError:  # a name that is not a str: as the general encoder does it
            return _reference_context_json(caller, context)
    return "{" + ",".join(fields) + "}"


def _reference_context_json(caller: Caller, context: Mapping[str, object] | None) -> str:
    """``context_json`` through the general encoder (the reference the tests compare)."""
    built: dict[str, object] = {"access_grant_approved": False, "lockbox_enforced": True}
    if caller.via:
        built["credential"] = caller.via
    for name, value in (context or {}).items():
        built[name] = cedar_value(name, value)
    return _encode(built)


class RequestEntities:
    """Parsed entity sets for requests, built from cached handles.

    Two bounded caches, both keyed by exact values: the caller's handle by ``Caller``,
    and the request's set by (caller handle, resource JSON text), so a repeated
    question (the same caller and the same resource with the same attributes) parses
    nothing. Thread-safe: lookups are single dict reads; inserts and eviction hold a lock.
    """

    def __init__(self, *, callers_max: int = _CALLERS_MAX, sets_max: int = _SETS_MAX) -> None:
        self._callers: dict[Caller, cedarpy.Entities] = {}
        self._sets: dict[tuple[cedarpy.Entities, str], cedarpy.Entities] = {}
        self._callers_max = callers_max
        self._sets_max = sets_max
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many caller handles are cached."""
        return len(self._callers)

    @property
    def sets_cached(self) -> int:
        """How many request entity sets are cached."""
        return len(self._sets)

    def caller_handle(self, caller: Caller) -> cedarpy.Entities:
        """The caller's entity, parsed once per distinct ``Caller`` value."""
        found = self._callers.get(caller)
        if found is None:
            found = cedarpy.Entities.from_json_str(_encode([principal_entity(caller)]))
            self._insert(self._callers, caller, found, self._callers_max)
        return found

    def for_request(self, caller: Caller, resource: Resource,
                    keep: frozenset[str] | None = None) -> cedarpy.Entities:
        """The caller's and the resource's entities, as Cedar will see them (the
        resource's attributes limited to ``keep`` as ``resource_json`` does)."""
        base = self.caller_handle(caller)
        if is_caller_itself(caller, resource):
            if resource.attributes:
                # One uid is one entity, whose attributes are the caller's: Cedar refuses
                # a second, different entity with that uid, and so do we (fail closed).
                raise InvalidInputError("the resource is the caller itself; it has no "
                                        "attributes of its own")
            return base
        delta = resource_json(resource, keep)
        key = (base, delta)  # the handle by identity: one per cached Caller value
        found = self._sets.get(key)
        if found is None:
            found = base.with_added_json_str("[" + delta + "]")
            self._insert(self._sets, key, found, self._sets_max)
        return found

    def _insert(self, cache: dict[_K, cedarpy.Entities], key: _K, handle: cedarpy.Entities,
                limit: int) -> None:
        with self._lock:
            if len(cache) >= limit:
                # Evict the oldest entry (dicts keep insertion order): bounded memory.
                del cache[next(iter(cache))]
            cache[key] = handle


__all__ = ["RequestEntities", "cedar_value", "context_json", "entities_json",
           "is_caller_itself", "principal_entity", "principal_ref", "resource_entity",
           "resource_json", "resource_parents"]
