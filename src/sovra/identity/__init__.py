"""Identity: principals (users, service accounts, groups), API keys, OIDC tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.identity.bootstrap import ensure_first_admin, open_identity
from sovra.identity.caller import Caller
from sovra.identity.oidc import OidcConfig, OidcVerifier
from sovra.identity.principals import ApiKeyInfo, CreatedKey, Principal
from sovra.identity.ratelimit import FailureLimiter
from sovra.identity.service import IdentityService

if TYPE_CHECKING:
    from sovra.identity.changes import PendingChange

# Loaded on first use (sovra._lazy): these bring the room's services, which a caller
# importing the room for the names above should not pay for.
_HOMES = {
    "PendingChange": "sovra.identity.changes",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "ApiKeyInfo",
    "Caller",
    "CreatedKey",
    "FailureLimiter",
    "IdentityService",
    "OidcConfig",
    "OidcVerifier",
    "PendingChange",
    "Principal",
    "ensure_first_admin",
    "open_identity",
]
