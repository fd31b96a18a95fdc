"""Principal and API key values, and validation of what admins may set (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sovra.errors import InvalidInputError
from sovra.identity.caller import PRINCIPAL_KINDS
from sovra.policy import ACTIONS, ROLES
from sovra.vocabulary import Classification

_PRINCIPAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}")


@dataclass(frozen=True)
class Principal:
    """A user, service account or group as stored (roles are its own, not inherited)."""

    principal_id: str
    kind: str
    display_name: str
    roles: frozenset[str]
    clearance: str
    org_unit: str
    jurisdiction: str
    disabled: bool
    created_at: float


@dataclass(frozen=True)
class ApiKeyInfo:
    """What is kept about an API key: never the secret."""

    key_id: str
    principal_id: str
    label: str
    scope: frozenset[str] | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    @property
    def prefix(self) -> str:
        """How the key appears in logs: ``sk-sovra-<key_id>``."""
        return f"sk-sovra-{self.key_id}"

    def usable_at(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``token`` is the full key, shown to its owner once."""

    info: ApiKeyInfo
    token: str


def check_principal_id(principal_id: str) -> str:
    if not _PRINCIPAL_ID.fullmatch(principal_id):
        raise InvalidInputError(
            f"invalid principal id {principal_id!r}: use 1-128 letters, digits and ._@:- "
            "starting with a letter or digit")
    return principal_id


def check_kind(kind: str) -> str:
    if kind not in PRINCIPAL_KINDS:
        raise InvalidInputError(f"unknown principal kind {kind!r}; "
                                f"expected one of {', '.join(sorted(PRINCIPAL_KINDS))}")
    return kind


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    given = frozenset(roles)
    unknown = given - ROLES
    if unknown:
        raise InvalidInputError(f"unknown roles {sorted(unknown)}; "
                                f"expected some of {', '.join(sorted(ROLES))}")
    return given


def check_clearance(clearance: str) -> str:
    return Classification.parse(clearance).label


def check_scope(scope: Iterable[str] | None) -> frozenset[str] | None:
    """A scope lists actions or ``prefix.*`` patterns; ``None`` means unrestricted."""
    if scope is None:
        return None
    entries = frozenset(scope)
    prefixes = {action.split(".", 1)[0] for action in ACTIONS}
    for entry in entries:
        known = entry in ACTIONS or (entry.endswith(".*") and entry[:-2] in prefixes)
        if not known:
            raise InvalidInputError(f"unknown action in scope: {entry!r}")
    if not entries:
        raise InvalidInputError("an empty scope allows nothing; omit the scope instead")
    return entries


__all__ = ["ApiKeyInfo", "CreatedKey", "Principal", "check_clearance", "check_kind",
           "check_principal_id", "check_roles", "check_scope"]
