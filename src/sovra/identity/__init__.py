"""Identity: principals (users, service accounts, groups), API keys, OIDC tokens."""

from __future__ import annotations

from sovra.identity.bootstrap import ensure_first_admin, open_identity
from sovra.identity.caller import Caller
from sovra.identity.oidc import OidcConfig, OidcVerifier
from sovra.identity.principals import ApiKeyInfo, CreatedKey, Principal
from sovra.identity.ratelimit import FailureLimiter
from sovra.identity.service import IdentityService

__all__ = ["ApiKeyInfo", "Caller", "CreatedKey", "FailureLimiter", "IdentityService",
           "OidcConfig", "OidcVerifier", "Principal", "ensure_first_admin", "open_identity"]
