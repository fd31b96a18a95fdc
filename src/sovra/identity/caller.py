"""Who is asking: the authenticated identity every decision and ledger entry names."""

from __future__ import annotations

from dataclasses import dataclass

PRINCIPAL_KINDS = frozenset({"user", "service", "group"})


@dataclass(frozen=True)
class Caller:
    """An authenticated principal with the attributes policies read.

    ``roles`` already include roles inherited from groups and mapped from OIDC groups.
    ``clearance`` is a level name (``public`` < ``internal`` < ``confidential`` <
    ``secret``, see ``sovra.policy.Classification``). ``via`` names the credential for
    logs and the ledger (``apikey:<prefix>`` or ``oidc:<issuer>``), never a secret.
    ``scope``, when set, limits the actions the credential may be used for (an API
    key created with a scope); ``None`` means no limit beyond policy.
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


__all__ = ["PRINCIPAL_KINDS", "Caller"]
