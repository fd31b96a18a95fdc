"""OIDC bearer tokens from the organisation's identity provider, verified offline.

Verification uses only the configured issuer, audience and JWKS file: nothing is
fetched at run time (air-gapped sites rotate the JWKS file with their IdP). Defences,
each with a test in tests/identity/test_oidc_attacks.py:

* an algorithm allow-list (RFC 8725 §3.1): ``none`` and every HMAC algorithm are
  refused, so an HS256 token "signed" with the RSA public key as secret (key
  confusion, RFC 8725 §2.1) never reaches a verifier;
* the key is chosen by ``kid`` from the JWKS and must be of the algorithm's family;
* ``exp``, ``nbf``, ``iss``, ``aud`` are checked (RFC 7519 §4.1) against an injected
  clock with a small leeway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from sovra.errors import AuthenticationError, ConfigError, InvalidInputError
from sovra.identity.caller import Caller
from sovra.vocabulary import Classification

ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"})


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks: Mapping[str, Any]
    group_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    groups_claim: str = "groups"
    clearance_claim: str = "sovra_clearance"
    org_unit_claim: str = "sovra_org_unit"
    jurisdiction_claim: str = "sovra_jurisdiction"
    algorithms: frozenset[str] = frozenset({"RS256", "ES256", "EdDSA"})
    leeway_s: float = 30.0


def load_jwks(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the OIDC JWKS file {path}: {exc}") from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("keys"), list):
        raise ConfigError(f"{path} is not a JWKS document (no \"keys\" list)")
    return loaded


class OidcVerifier:
    """Verify ID/access tokens of one issuer and turn them into callers."""

    def __init__(self, config: OidcConfig, clock: Callable[[], float] = time.time) -> None:
        unknown = config.algorithms - ALLOWED_ALGORITHMS
        if unknown:
            raise ConfigError(f"OIDC algorithms not allowed: {sorted(unknown)}; "
                              f"choose from {sorted(ALLOWED_ALGORITHMS)}")
        self._config = config
        self._clock = clock
        self._keys: list[Mapping[str, Any]] = list(config.jwks.get("keys", []))

    def _key_for(self, header: Mapping[str, Any]) -> jwt.PyJWK:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._config.algorithms:
            raise AuthenticationError(f"token algorithm {alg!r} is not allowed")
        kid = header.get("kid")
        candidates = [k for k in self._keys if kid is None or k.get("kid") == kid]
        if len(candidates) != 1:
            raise AuthenticationError("token key id does not name exactly one trusted key")
        try:
            return jwt.PyJWK(dict(candidates[0]), algorithm=alg)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise AuthenticationError("token algorithm does not fit the trusted key") from exc

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header)
            claims: dict[str, Any] = jwt.decode(
                token, key=key.key, algorithms=[str(header["alg"])],
                audience=self._config.audience, issuer=self._config.issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "require": ["exp", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from exc
        self._check_times(claims)
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        # RFC 7519 §4.1.4 / §4.1.5, with the injected clock and a small leeway.
        now, leeway = self._clock(), self._config.leeway_s
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or now > exp + leeway:
            raise AuthenticationError("token has expired")
        if nbf is not None and (not isinstance(nbf, int | float) or now < nbf - leeway):
            raise AuthenticationError("token is not yet valid")

    def verify(self, token: str) -> Caller:
        claims = self._claims(token)
        groups = claims.get(self._config.groups_claim) or []
        if not isinstance(groups, list):
            groups = []
        roles: set[str] = set()
        for group in groups:
            roles |= self._config.group_roles.get(str(group), frozenset())
        try:
            clearance = Classification.parse(str(claims.get(self._config.clearance_claim,
                                                           "public"))).label
        except InvalidInputError as exc:
            raise AuthenticationError("token carries an unknown clearance") from exc
        return Caller(
            principal_id=f"oidc:{claims['sub']}",
            kind="user",
            roles=frozenset(roles),
            clearance=clearance,
            org_unit=str(claims.get(self._config.org_unit_claim, "")),
            jurisdiction=str(claims.get(self._config.jurisdiction_claim, "")),
            via=f"oidc:{self._config.issuer}",
        )


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


__all__ = ["ALLOWED_ALGORITHMS", "OidcConfig", "OidcVerifier", "load_jwks", "looks_like_jwt"]
