"""Offline Ed25519 signing keys as files (connected side).

``NAME.key`` holds the PKCS#8 PEM private key (mode 0600, never overwritten);
``NAME.pub.json`` holds the public key in TUF form (``{"keyid", "key"}``) and is what
goes into root metadata. Key ids are TUF's default (SHA-256 of the canonical public
key), so the same key always has the same id.

A key on a PKCS#11 token (an HSM, a smartcard, SoftHSM2) is described by a public key
file that also names it (``"uri": "hsm:2?label=..."``, securesystemslib's HSMSigner:
ECDSA P-256/P-384); ``load_signer`` on that file signs on the token, with the module
from ``PYKCS11LIB`` and the PIN from ``SOVRA_HSM_PIN``. The private key never leaves it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pkcs11.exceptions import PKCS11Error
from securesystemslib.exceptions import UnsupportedLibraryError
from securesystemslib.signer import CryptoSigner, HSMSigner, Key, Signer, SSlibKey

from sovra.errors import InvalidInputError


@dataclass(frozen=True)
class KeyFiles:
    """The two files ``keygen`` wrote and the key id they share."""

    keyid: str
    private_path: Path
    public_path: Path


def keygen(name: str, out_dir: Path) -> KeyFiles:
    """Create an Ed25519 key pair as ``NAME.key`` and ``NAME.pub.json`` in ``out_dir``."""
    if not name or "/" in name or name.startswith("."):
        raise InvalidInputError(f"key name {name!r} must be a plain file name")
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    signer = CryptoSigner.generate_ed25519()
    private_path = out_dir / f"{name}.key"
    public_path = out_dir / f"{name}.pub.json"
    _write_new(private_path, signer.private_bytes, 0o600)
    public = {"keyid": signer.public_key.keyid, "key": signer.public_key.to_dict()}
    _write_new(public_path, json.dumps(public, indent=2).encode() + b"\n", 0o644)
    return KeyFiles(signer.public_key.keyid, private_path, public_path)


def hsm_import(name: str, out_dir: Path, *, hsm_keyid: int, token_label: str) -> KeyFiles:
    """Describe an EC key on a PKCS#11 token as ``NAME.pub.json`` (public key and URI)."""
    try:
        uri, key = HSMSigner.import_(hsm_keyid, token_label, _hsm_pin)
    except (ValueError, UnsupportedLibraryError, PKCS11Error) as exc:
        raise InvalidInputError(f"cannot read key {hsm_keyid} on token {token_label!r}: "
                                f"{exc} (set PYKCS11LIB to the PKCS#11 module)") from exc
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    public_path = out_dir / f"{name}.pub.json"
    public = {"keyid": key.keyid, "key": key.to_dict(), "uri": uri}
    _write_new(public_path, json.dumps(public, indent=2).encode() + b"\n", 0o644)
    return KeyFiles(key.keyid, public_path, public_path)


def load_signer(path: Path) -> Signer:
    """Load a private key file written by ``keygen`` (or an HSM key file) as a signer."""
    if path.suffix == ".json":
        return _hsm_signer(path)
    try:
        private = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidInputError(f"cannot load signing key {path}: {exc}") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise InvalidInputError(f"signing key {path} is not an Ed25519 key")
    return CryptoSigner(private)


def load_public_key(path: Path) -> Key:
    """Load ``NAME.pub.json`` (or derive the public key from a ``NAME.key`` file)."""
    if path.suffix == ".key":
        return load_signer(path).public_key
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return SSlibKey.from_dict(str(raw["keyid"]), dict(raw["key"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"cannot load public key {path}: {exc}") from exc


def _hsm_signer(path: Path) -> Signer:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        uri = str(raw["uri"])
        key = SSlibKey.from_dict(str(raw["keyid"]), dict(raw["key"]))
        return HSMSigner.from_priv_key_uri(uri, key, _hsm_pin)
    except (OSError, ValueError, KeyError, TypeError, UnsupportedLibraryError) as exc:
        raise InvalidInputError(f"{path} does not describe a usable HSM key: {exc}") from exc


def _hsm_pin(_secret: str) -> str:
    pin = os.environ.get("SOVRA_HSM_PIN")
    if not pin:
        raise InvalidInputError("set SOVRA_HSM_PIN to the token's user PIN")
    return pin


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: a key file is never silently replaced; losing a key is worse than an error.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError as exc:
        raise InvalidInputError(f"{path} exists; refusing to overwrite a key file") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
