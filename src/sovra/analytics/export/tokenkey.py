"""The export signing key on the keys room's PKCS#11 token (an HSM, SoftHSM2).

Where the site's root key lives on a token (``sovra keys init --hsm``), the export key
is made there too, on first use: an EC P-256 key pair generated on the token
(``CKA_SENSITIVE``, not extractable, label ``sovra-export``), so the private key never
exists outside it. Every signature is made on the token (ECDSA, TUF's
``ecdsa-sha2-nistp256`` scheme); what is kept on disk is only the public key and where
to find its private half (``export.token.json``). Receivers verify exactly as for a
file key: the root they pin names the key.

The signing is securesystemslib's ``HSMSigner`` (what the transfer room's release
officers use for token keys), with the token opened through the keys room's own
settings (module, label, PIN source) rather than process-wide environment variables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11.util import biginteger
from pkcs11.util.ec import encode_named_curve_parameters
from securesystemslib.signer import HSMSigner, SSlibKey

from sovra.errors import HsmError
from sovra.keys import HsmConfig

EXPORT_KEY_ID = 0x5E7E  # the key pair's CKA_ID on the token
EXPORT_KEY_LABEL = "sovra-export"
SCHEME = "ecdsa-sha2-nistp256"


class TokenSigner(HSMSigner):
    """Signs on the token named by the keys room's configuration."""

    def __init__(self, config: HsmConfig, public_key: SSlibKey) -> None:
        super().__init__(EXPORT_KEY_ID, public_key, lambda _message: config.read_pin(),
                         config.token_label)
        self._module = config.module

    def _find_token(self, token_label: str | None = None) -> Any:  # type: ignore[override]
        return _token(self._module, token_label or "")


def _token(module: str, label: str) -> Any:
    try:
        return pkcs11.lib(module).get_token(token_label=label)
    except pkcs11.NoSuchToken as exc:
        raise HsmError(f"no PKCS#11 token labelled {label!r} in {module}") from exc
    except (OSError, pkcs11.PKCS11Error) as exc:
        raise HsmError(f"cannot open the PKCS#11 module {module}: {exc}") from exc


def token_key(config: HsmConfig) -> SSlibKey:
    """The export key's public half, generating the pair on the token if it has none."""
    token = _token(config.module, config.token_label)
    try:
        with token.open(user_pin=config.read_pin(), rw=True) as session:
            try:
                public = HSMSigner._find_pub_key(session, EXPORT_KEY_ID)
            except ValueError:  # none yet: make it here, where it will stay
                params = session.create_domain_parameters(pkcs11.KeyType.EC, {
                    pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                    local=True)
                params.generate_keypair(store=True, label=EXPORT_KEY_LABEL,
                                        id=biginteger(EXPORT_KEY_ID))
                public = HSMSigner._find_pub_key(session, EXPORT_KEY_ID)
    except pkcs11.PKCS11Error as exc:
        raise HsmError(f"cannot make or read the export key on token "
                       f"{config.token_label!r}: {type(exc).__name__}") from exc
    return SSlibKey.from_crypto(public, scheme=SCHEME)


def describe(path: Path, key: SSlibKey, config: HsmConfig) -> None:
    """Write what finds the key again: its public key and token label (no secret)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps({"keyid": key.keyid, "key": key.to_dict(),
                                "token_label": config.token_label,
                                "hsm_keyid": EXPORT_KEY_ID}, indent=2) + "\n")


def load(path: Path, config: HsmConfig | None) -> TokenSigner:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if config is None or config.token_label != raw["token_label"]:
        raise HsmError(f"the export key is on PKCS#11 token {raw['token_label']!r}, and the "
                       "keys room names no such token: configure it (sovra keys status) "
                       "before anything can be signed for export")
    return TokenSigner(config, SSlibKey.from_dict(str(raw["keyid"]), dict(raw["key"])))


__all__ = ["EXPORT_KEY_ID", "EXPORT_KEY_LABEL", "TokenSigner", "describe", "load",
           "token_key"]
