"""The Cedar engine: a parsed, validated policy set that answers authorization requests.

Pure: policy text and values in, ``Decision`` out. Parsing happens once when the set is
compiled (the handle is reused for every decision: the issue's "do not re-parse per
request"); per decision Cedar gets the caller's entity handle, parsed once per caller,
plus the resource entity (``entities``), and only the slice of the set that can apply
to this resource and this caller's roles (``slicing``).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from functools import cache
from importlib import resources

import cedarpy

from sovra.errors import PolicyValidationError, SovraError
from sovra.policy.actions import ACTIONS
from sovra.policy.decision import Decision, Resource
from sovra.policy.entities import (
    RequestEntities,
    context_json,
    principal_ref,
    resource_parents,
)
from sovra.policy.reads import ALL, Reads
from sovra.policy.slicing import SlicedPolicies
from sovra.policy.source import validate
from sovra.vocabulary import Caller

# What a malformed request raises on its way to Cedar; any of them refuses it.
_MALFORMED = (ValueError, TypeError, SovraError)


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
        self._entities = RequestEntities()

    def __len__(self) -> int:
        return len(self._set)

    def _ask(self, caller: Caller, action: str, resource: Resource,
             context: Mapping[str, object] | None, *, policy_set: cedarpy.PolicySet,
             reads: Reads) -> cedarpy.AuthzResult:
        """One Cedar request, sending only the attributes ``reads`` names."""
        request = {
            "principal": {"type": "Principal", "id": caller.principal_id},
            "action": {"type": "Action", "id": action},
            "resource": {"type": resource.type, "id": resource.id},
            "context": context_json(caller, context, reads.context),
        }
        entities = self._entities.for_request(caller, resource, reads.resource)
        return cedarpy.is_authorized(request, policy_set, entities)

    def decide(self, caller: Caller, action: str, resource: Resource,
               context: Mapping[str, object] | None = None) -> Decision:
        """Ask Cedar; deny on unknown actions, wrong resource types and any error."""
        applies_to = ACTIONS.get(action)
        if applies_to is None or resource.type not in applies_to:
            why = (f"unknown action {action!r}" if applies_to is None else
                   f"action {action!r} does not apply to {resource.type}")
            return Decision.refused(caller.principal_id, action, resource.uid, why)
        try:
            policy_set, reads = (self._set, ALL) if self._slices is None else (
                self._slices.for_request(
                    action, [(resource.type, resource.id), *resource_parents(resource)],
                    caller.roles))
            result = None
            if reads is not ALL:
                with contextlib.suppress(*_MALFORMED):
                    result = self._ask(caller, action, resource, context,
                                       policy_set=policy_set, reads=reads)
                if result is not None and result.diagnostics.errors:
                    result = None
            if result is None:
                # Not sliced, or the request failed or erred: only values Cedar accepts
                # are left out, so the request as given fails too, and asking it reports
                # exactly its errors.
                result = self._ask(caller, action, resource, context,
                                   policy_set=policy_set, reads=ALL)
        except _MALFORMED as exc:  # malformed input: fail closed
            return Decision.refused(caller.principal_id, action, resource.uid,
                                    f"request rejected by the engine: {exc}")
        diagnostics = result.diagnostics
        reasons = diagnostics.reasons
        policy_ids: tuple[str, ...] = ()
        if reasons:
            names = diagnostics.id_annotations_by_reason
            # Cedar returns reasons in no stable order; sorted, the ledger entry is
            # reproducible.
            policy_ids = tuple(sorted([names.get(r, r) for r in reasons]))
        errors = tuple(map(str, diagnostics.errors))
        # Cedar skips a policy whose evaluation errors; we deny instead (fail closed),
        # so an erroring forbid can never turn into an allow.
        allowed = result.allowed and not errors
        return Decision(allowed, caller.principal_id, action, resource.uid, policy_ids, errors)


__all__ = ["CompiledPolicies", "default_policy_text", "load_schema", "principal_ref",
           "schema_text"]
