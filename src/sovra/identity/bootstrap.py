"""Opening the identity service and creating the first administrator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine

from sovra.config import Settings
from sovra.errors import ConflictError
from sovra.identity.oidc import OidcConfig, OidcVerifier, load_jwks
from sovra.identity.service import IdentityService
from sovra.identity.sink import LedgerSink
from sovra.identity.store import IdentityStore

if TYPE_CHECKING:
    from sovra.instance import Instance

FIRST_ADMIN = "admin"


def oidc_from_settings(settings: Settings) -> OidcVerifier | None:
    """The OIDC verifier the settings describe, or None when OIDC is not configured."""
    if not (settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_path):
        return None
    config = OidcConfig(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        jwks=load_jwks(settings.oidc_jwks_path),
        group_roles={g: frozenset(r) for g, r in settings.oidc_group_roles.items()},
        groups_claim=settings.oidc_groups_claim,
    )
    return OidcVerifier(config)


def open_identity(engine: Engine, settings: Settings, ledger: LedgerSink) -> IdentityService:
    return IdentityService(IdentityStore(engine), ledger, oidc=oidc_from_settings(settings))


def ensure_first_admin(instance: Instance) -> str | None:
    """Create the first admin and return its API key (shown once), or None if one exists.

    The admin gets clearance ``secret`` and the ``admin`` role only: approving policy
    changes needs a second person with the ``approver`` role (segregation of duties).
    """
    identity = instance.identity
    if identity.admin_exists():
        return None
    principal_id = FIRST_ADMIN
    suffix = 1
    while True:
        try:
            identity.create_principal("system", principal_id, kind="user", roles=["admin"],
                                      clearance="secret", display_name="First administrator")
            break
        except ConflictError:
            if identity.admin_exists():  # another process bootstrapped concurrently
                return None
            suffix += 1  # a non-admin principal holds the name
            principal_id = f"{FIRST_ADMIN}{suffix}"
    created = identity.create_api_key("system", principal_id, label="first admin key")
    return created.token


__all__ = ["ensure_first_admin", "oidc_from_settings", "open_identity"]
