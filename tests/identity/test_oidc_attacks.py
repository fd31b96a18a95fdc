"""OIDC token verification: the accepted case, then one test per attack (issue 4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sovra.config import load_settings
from sovra.errors import AuthenticationError
from sovra.identity import OidcConfig, OidcVerifier
from sovra.identity.oidc import load_jwks
from sovra.instance import open_instance

ISSUER = "https://idp.example.org/realms/sovra"
AUDIENCE = "sovra-api"
NOW = 1_800_000_000.0
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig")
    return jwk


JWKS = {"keys": [_jwk(RSA_KEY, "k1")]}


def _verifier() -> OidcVerifier:
    return OidcVerifier(OidcConfig(issuer=ISSUER, audience=AUDIENCE, jwks=JWKS,
                                   group_roles={"sec-auditors": frozenset({"auditor"}),
                                                "analysts": frozenset({"analyst"})}),
                        clock=lambda: NOW)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-42",
                              "iat": int(NOW) - 10, "nbf": int(NOW) - 10,
                              "exp": int(NOW) + 300, "groups": ["sec-auditors", "other"],
                              "sovra_clearance": "confidential", "sovra_org_unit": "risk"}
    claims.update(overrides)
    return claims


def _token(claims: dict[str, Any] | None = None, kid: str = "k1",
           key: rsa.RSAPrivateKey = RSA_KEY) -> str:
    return jwt.encode(claims or _claims(), key, algorithm="RS256", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def test_a_valid_token_maps_groups_to_roles() -> None:
    caller = _verifier().verify(_token())
    assert caller.principal_id == "oidc:u-42"
    assert caller.roles == {"auditor"}
    assert (caller.clearance, caller.org_unit) == ("confidential", "risk")
    assert caller.via == f"oidc:{ISSUER}"


def test_alg_none_is_rejected() -> None:
    token = _unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}, _claims()) + "."
    with pytest.raises(AuthenticationError, match="not allowed"):
        _verifier().verify(token)


def test_hs256_signed_with_the_rsa_public_key_is_rejected() -> None:
    # Key confusion (RFC 8725 §2.1): the attacker uses the public key as an HMAC secret.
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "k1"}, _claims())
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(AuthenticationError, match="not allowed"):
        _verifier().verify(f"{signing_input}.{_b64(signature)}")


def test_expired_token_is_rejected() -> None:
    with pytest.raises(AuthenticationError, match="expired"):
        _verifier().verify(_token(_claims(exp=int(NOW) - 120)))


def test_not_yet_valid_token_is_rejected() -> None:
    with pytest.raises(AuthenticationError, match="not yet valid"):
        _verifier().verify(_token(_claims(nbf=int(NOW) + 600)))


def test_wrong_issuer_is_rejected() -> None:
    with pytest.raises(AuthenticationError, match=r"(?i)issuer"):
        _verifier().verify(_token(_claims(iss="https://evil.example.org")))


def test_wrong_audience_is_rejected() -> None:
    with pytest.raises(AuthenticationError, match=r"(?i)audience"):
        _verifier().verify(_token(_claims(aud="another-app")))


def test_signature_by_an_untrusted_key_is_rejected() -> None:
    with pytest.raises(AuthenticationError, match="invalid token"):
        _verifier().verify(_token(key=OTHER_RSA_KEY))


def test_unknown_key_id_is_rejected() -> None:
    with pytest.raises(AuthenticationError, match="key id"):
        _verifier().verify(_token(kid="k9"))


def test_algorithm_that_does_not_fit_the_key_is_rejected() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "k1"})
    with pytest.raises(AuthenticationError):
        _verifier().verify(token)


def test_missing_expiry_is_rejected() -> None:
    claims = _claims()
    del claims["exp"]
    with pytest.raises(AuthenticationError):
        _verifier().verify(_token(claims))


def test_instance_accepts_oidc_tokens_configured_in_settings(tmp_path: Path) -> None:
    jwks_path = tmp_path / "jwks.json"
    jwks_path.write_text(json.dumps(JWKS))
    assert load_jwks(jwks_path) == JWKS
    settings = load_settings(data_dir=tmp_path / "data", checkpoint_interval_s=0.0,
                             oidc_issuer=ISSUER, oidc_audience=AUDIENCE,
                             oidc_jwks_path=jwks_path,
                             oidc_group_roles={"sec-auditors": ["auditor"]})
    instance = open_instance(settings)
    try:
        fresh = _claims(iat=None, nbf=None, exp=2_000_000_000)
        caller = instance.identity.authenticate(f"Bearer {_token(fresh)}", "10.1.1.1")
        assert caller.roles == {"auditor"}
        with pytest.raises(AuthenticationError):
            instance.identity.authenticate(f"Bearer {_token(fresh, key=OTHER_RSA_KEY)}",
                                           "10.1.1.1")
    finally:
        instance.close()
