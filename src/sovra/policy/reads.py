"""Which attributes a set of policies can read: the rest need not be sent to Cedar.

Cedar parses every attribute of every entity and every context value it is given,
whether or not a policy reads it, and parsing a value costs about as much as evaluating
a small policy (its JSON parser tries each value form in turn). A decision sends only
what the policies being evaluated (the slice, see ``slicing``) can read.

What a policy can read is visible in its syntax (Cedar's JSON policy form, the EST):

* an attribute of an entity is readable only through ``e.name``, ``e["name"]`` or
  ``e has name`` with the name written literally (entities are never compared or
  used by their attributes, only by their uid), so an attribute whose name no policy
  writes cannot change an outcome. Reads on ``principal`` (the caller's entity, sent
  whole and cached) or ``action`` cannot reach the resource entity; any other
  expression (``resource``, an entity literal, ``context.requester``, ...) might, so
  its names count for the resource;
* the context is a record, which a policy can also use whole (``context == {...}``,
  ``[context]``, ``{"c": context}``): then every value is kept. Otherwise only the
  names read as ``context.name`` / ``context has name`` are.

Anything this module does not recognise keeps everything (``Reads.ALL``), and the
caller drops a value only when Cedar would certainly have accepted it (so a malformed
value is still refused exactly as before); tests/policy/test_slicing.py checks that
decisions, determining policies and errors are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# EST expression nodes whose payload holds no sub-expression.
_LEAVES = frozenset({"Value", "Slot", "Unknown"})
# Fields of a payload that hold sub-expressions, and fields that hold plain data.
_EXPR_FIELDS = frozenset({"left", "right", "arg", "if", "then", "else", "in"})
_DATA_FIELDS = frozenset({"attr", "pattern", "entity_type"})


class _UnrecognisedError(Exception):
    """An EST shape this module does not know: then everything is kept."""


@dataclass(frozen=True)
class Reads:
    """Attribute names some policies can read; ``None`` means any name."""

    resource: frozenset[str] | None
    context: frozenset[str] | None


ALL = Reads(None, None)


class _Walk:
    def __init__(self) -> None:
        self.resource: set[str] = set()
        self.context: set[str] | None = set()

    def expr(self, node: Any) -> None:
        if not isinstance(node, Mapping) or len(node) != 1:
            raise _UnrecognisedError(node)
        ((op, payload),) = node.items()
        if op in _LEAVES:
            return
        if op == "Var":
            if payload == "context":
                self.context = None  # used whole: every value can matter
            return
        if op in {".", "has"}:
            self.attribute(payload)
        elif op == "Record":
            for value in payload.values():
                self.expr(value)
        elif isinstance(payload, list):  # Set, and extension functions and methods
            for value in payload:
                self.expr(value)
        elif isinstance(payload, Mapping) and set(payload) <= _EXPR_FIELDS | _DATA_FIELDS:
            for name in _EXPR_FIELDS & set(payload):
                self.expr(payload[name])
        else:
            raise _UnrecognisedError(node)

    def attribute(self, payload: Any) -> None:
        left, name = payload.get("left"), payload.get("attr")
        if not isinstance(name, str):
            raise _UnrecognisedError(payload)
        if left == {"Var": "context"}:
            if self.context is not None:
                self.context.add(name)
            return
        if left not in ({"Var": "principal"}, {"Var": "action"}):
            self.resource.add(name)
        self.expr(left)


def policy_reads(policies: Iterable[Mapping[str, Any]]) -> Reads:
    """What these EST policies can read (``ALL`` for anything unrecognised)."""
    walk = _Walk()
    try:
        for policy in policies:
            for condition in policy.get("conditions", ()):
                walk.expr(condition["body"])
    except (_UnrecognisedError, KeyError, TypeError, AttributeError):
        return ALL
    context = None if walk.context is None else frozenset(walk.context)
    return Reads(frozenset(walk.resource), context)


__all__ = ["ALL", "Reads", "policy_reads"]
