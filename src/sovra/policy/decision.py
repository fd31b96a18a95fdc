"""Decision and resource values (design rule 4: decisions carry their reasons)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class Resource:
    """What an action is about: a Cedar entity type, an id, and attributes policies read.

    Attributes are those declared in ``schema.cedarschema`` for the type, for example
    ``{"classification": Classification.SECRET}`` for a document. Levels may be given
    as ``Classification``, their name or their integer value.
    """

    type: str
    id: str = "*"
    attributes: Mapping[str, object] = field(default_factory=lambda: _EMPTY, compare=False,
                                             hash=False)

    @property
    def uid(self) -> str:
        """The Cedar entity uid as text, used in the ledger (``Document::"d-1"``)."""
        return f'{self.type}::"{self.id}"'


@dataclass(frozen=True)
class Decision:
    """The outcome of one authorization request.

    ``policy_ids`` are the determining policies (their ``@id`` annotation where they
    have one): for an allow the permits that matched, for a deny the forbids that
    matched (empty when nothing permitted: deny by default). ``errors`` are
    evaluation errors; any error turns the decision into a deny (fail closed).
    """

    allowed: bool
    principal_id: str
    action: str
    resource: str
    policy_ids: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    # The lockbox grant the decision was made under (sovra.lockbox), cited in the ledger.
    grant_id: str | None = None

    @classmethod
    def refused(cls, principal_id: str, action: str, resource: str, why: str) -> Decision:
        """A deny decided before Cedar was asked (unknown action, scope, bad input)."""
        return cls(allowed=False, principal_id=principal_id, action=action,
                   resource=resource, errors=(why,))

    @property
    def outcome(self) -> str:
        """The ledger outcome for this decision: ``"allowed"`` or ``"denied"``."""
        return "allowed" if self.allowed else "denied"

    @property
    def reasons(self) -> tuple[str, ...]:
        """Determining policies and errors, or why nothing decided (deny by default)."""
        if self.policy_ids or self.errors:
            return self.policy_ids + self.errors
        return () if self.allowed else ("no policy permits this request (deny by default)",)

    def ledger_details(self) -> dict[str, object]:
        """What the ledger records about this decision."""
        return {
            "action": self.action,
            "decision": "allow" if self.allowed else "deny",
            "policies": list(self.policy_ids),
            "errors": list(self.errors),
            **({"grant_id": self.grant_id} if self.grant_id is not None else {}),
        }


__all__ = ["Decision", "Resource"]
