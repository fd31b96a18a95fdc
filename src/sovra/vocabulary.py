"""The shared vocabulary every room speaks: who is asking, how sensitive a thing is, and
where an event is recorded.

A leaf module (it imports only ``sovra.errors``) so that the rooms can share these words
without importing each other: ``policy`` decides about a ``Caller`` without importing
``identity``, and ``identity`` names a ``Classification`` without importing the policy
engine. This is what breaks the former identity <-> policy import cycle; the import
contract (``.importlinter``, ``tests/test_import_contract.py``) keeps it broken.

``Caller`` is re-exported by ``sovra.identity``, ``Classification`` by ``sovra.policy``
and ``LedgerSink`` by ``sovra.identity.sink``; the names are the same objects.
The actions table stays with the policy room (``sovra.policy.ACTIONS``) because it
mirrors the Cedar schema there; rooms above policy may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from sovra.errors import InvalidInputError

PRINCIPAL_KINDS = frozenset({"user", "service", "group"})


@dataclass(frozen=True)
class Caller:
    """An authenticated principal with the attributes policies read.

    ``roles`` already include roles inherited from groups and mapped from OIDC groups.
    ``clearance`` is a level name (``public`` < ``internal`` < ``confidential`` <
    ``secret``, see ``Classification``). ``via`` names the credential for logs and the
    ledger (``apikey:<prefix>`` or ``oidc:<issuer>``), never a secret. ``scope``, when
    set, limits the actions the credential may be used for (an API key created with a
    scope); ``None`` means no limit beyond policy.
    """

    principal_id: str
    kind: str
    roles: frozenset[str]
    clearance: str
    org_unit: str = ""
    jurisdiction: str = ""
    via: str = ""
    scope: frozenset[str] | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def permits_action(self, action: str) -> bool:
        """Whether the credential's scope (not policy) allows ``action``.

        A scope entry is an action (``ledger.read``) or a prefix ending in ``.*``
        (``collections.*``).
        """
        if self.scope is None:
            return True
        return any(entry == action or (entry.endswith(".*") and
                                       action.startswith(entry[:-1]))
                   for entry in self.scope)


class Classification(IntEnum):
    """A sensitivity level, ordered public < internal < confidential < secret.

    Cedar sees a level as its integer value, so a policy compares
    ``principal.clearance >= resource.classification``.
    """

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    SECRET = 3

    @property
    def label(self) -> str:
        """The lower-case name used in settings, files and the API (``"secret"``)."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int | Classification) -> Classification:
        """Accept a level, its name in any case, or its integer value."""
        if isinstance(value, Classification):
            return value
        if isinstance(value, bool):
            raise InvalidInputError(f"not a classification level: {value!r}")
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError as exc:
                raise InvalidInputError(f"no classification level {value}") from exc
        try:
            return cls[value.strip().upper()]
        except KeyError as exc:
            names = ", ".join(level.label for level in cls)
            raise InvalidInputError(
                f"unknown classification {value!r}; expected one of {names}") from exc


class LedgerSink(Protocol):
    """What identity and policy need from the ledger: a durable, blocking append.

    A protocol rather than ``sovra.ledger.Ledger`` itself keeps these rooms importable by
    an offline verifier or test runner that has no ledger (``sovra policy test``).
    """

    def append(self, actor: str, action: str, resource: str, outcome: str,
               details: Mapping[str, object] | None = None) -> object:
        """Record one event durably, or raise ``LedgerUnavailableError``."""
        ...


__all__ = ["PRINCIPAL_KINDS", "Caller", "Classification", "LedgerSink"]
